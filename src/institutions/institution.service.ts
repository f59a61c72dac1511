import type { Institution } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { AppError, ErrorCode } from '../errors.ts';
import { InstitutionRepository } from './institution.repository.ts';
import { definitionSchema, parseOrThrow, updateSchema, type InstitutionDefinition } from './institution.schemas.ts';
import { seededInstitutions } from './institution.seed.ts';

export interface InstitutionQuery {
  country?: string;
  search?: string;
  /** Disabled institutions too (the admin CLI); apps only ever see enabled ones. */
  includeDisabled?: boolean;
}

/** The data holders. Global (not tenant-owned): every app sees the same list. */
export class InstitutionService {
  constructor(private readonly deps: Deps) {}

  private get repo() {
    return new InstitutionRepository(this.deps.db.manager);
  }

  async list(query: InstitutionQuery = {}): Promise<Institution[]> {
    return this.repo.list({
      includeDisabled: query.includeDisabled,
      country: query.country ? query.country.toUpperCase() : query.country,
      search: query.search,
    });
  }

  /** One institution, disabled or not (an existing connection's institution stays readable). */
  async get(id: string): Promise<Institution> {
    const found = await this.repo.findById(id);
    if (!found) throw AppError.notFound('institution', id);
    return found;
  }

  /** Upserts the sandbox institutions; safe to run on every start and from many replicas at once. */
  async seed(sandboxPluginUrl: string): Promise<void> {
    await this.repo.upsertAll(seededInstitutions(sandboxPluginUrl));
  }

  /**
   * Upserts institutions an operator defined (INSTITUTIONS_FILE, already validated): each one listed becomes exactly
   * what it says, in one statement (INSERT … ON CONFLICT DO UPDATE), so replicas starting together agree. Those it
   * does not list are left as they are.
   */
  async apply(definitions: InstitutionDefinition[]): Promise<void> {
    if (definitions.length) await this.repo.upsertAll(definitions);
  }

  /** A new institution from an operator's definition (validated here); CONFLICT when the id exists. */
  async add(input: unknown): Promise<Institution> {
    const definition = parseOrThrow(definitionSchema, input);
    if (!(await this.repo.insertIfAbsent(definition)))
      throw new AppError(ErrorCode.CONFLICT, `institution ${definition.id} exists; change it with institutions:update`);
    return this.get(definition.id);
  }

  /** Changes some fields of an institution; the result must be a valid institution as a whole. */
  async update(id: string, patch: unknown): Promise<Institution> {
    const changes = parseOrThrow(updateSchema, patch);
    const { createdAt: _c, updatedAt: _u, ...current } = await this.get(id);
    const next = parseOrThrow(definitionSchema, { ...current, ...changes });
    await this.repo.update(id, next);
    return this.get(id);
  }

  /** Disabled: no new connections, not listed to apps; existing connections keep refreshing. */
  async setEnabled(id: string, enabled: boolean): Promise<Institution> {
    if (!(await this.repo.update(id, { enabled }))) throw AppError.notFound('institution', id);
    return this.get(id);
  }
}
