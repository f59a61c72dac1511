import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { Institution } from '../../entities/index.ts';
import type { InstitutionDefinition } from './institution.schemas.ts';

/** What to list: enabled only unless told otherwise, by country, by a search on name, id or bank code. */
export interface InstitutionFilter {
  includeDisabled?: boolean;
  /** Upper case already. */
  country?: string;
  search?: string;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Every query on institutions (the data holders). Global rows: no app filter. */
export class InstitutionRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(Institution);
  }

  /** Institutions matching the filter, in id order; the search matches name or id by substring, bank code exactly. */
  list(filter: InstitutionFilter): Promise<Institution[]> {
    const qb = this.repo.createQueryBuilder('i').orderBy('i.id', 'ASC');
    if (!filter.includeDisabled) qb.andWhere('i.enabled');
    if (filter.country) qb.andWhere('i.country = :country', { country: filter.country });
    if (filter.search) {
      qb.andWhere(`(i.name ILIKE :q OR i.id ILIKE :q OR i.bank_code = :exact)`, {
        q: `%${escapeLike(filter.search)}%`,
        exact: filter.search,
      });
    }
    return qb.getMany();
  }

  findById(id: string): Promise<Institution | null> {
    return this.repo.findOneBy({ id });
  }

  /** For an id a row references (a connection's institution): a missing row is a broken invariant, so it throws. */
  findByIdOrFail(id: string): Promise<Institution> {
    return this.repo.findOneByOrFail({ id });
  }

  /**
   * Hosted Connect's bank search: enabled and not unavailable, name or id containing `text` (if any), by name, 50 at
   * most. `text` is matched literally (LIKE's wildcards escaped).
   */
  searchConnectable(text: string): Promise<Institution[]> {
    const qb = this.repo.createQueryBuilder('i').where(`i.enabled AND i.status <> 'unavailable'`).orderBy('i.name', 'ASC');
    if (text) qb.andWhere('(i.name ILIKE :q OR i.id ILIKE :q)', { q: `%${escapeLike(text)}%` });
    return qb.limit(50).getMany();
  }

  /** Inserts or overwrites each definition by id, in one statement (INSERT … ON CONFLICT DO UPDATE). */
  async upsertAll(definitions: QueryDeepPartialEntity<Institution>[]): Promise<void> {
    await this.repo.upsert(definitions, { conflictPaths: ['id'] });
  }

  /** Inserts unless the id exists (ON CONFLICT DO NOTHING); false when it did. */
  async insertIfAbsent(definition: InstitutionDefinition): Promise<boolean> {
    const inserted = await this.repo.createQueryBuilder().insert().values(definition).orIgnore().returning('id').execute();
    return inserted.raw.length > 0;
  }

  /** Overwrites the given fields; false when there is no such institution. */
  async update(id: string, changes: QueryDeepPartialEntity<Institution>): Promise<boolean> {
    const { affected } = await this.repo.update({ id }, changes);
    return Boolean(affected);
  }
}
