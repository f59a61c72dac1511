import { Institution } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import { seededInstitutions } from './institution.seed.ts';

export interface InstitutionQuery {
  country?: string;
  search?: string;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The data holders. Global (not tenant-owned): every app sees the same list. */
export class InstitutionService {
  constructor(private readonly deps: Deps) {}

  private get repo() {
    return this.deps.db.getRepository(Institution);
  }

  async list(query: InstitutionQuery = {}): Promise<Institution[]> {
    const qb = this.repo.createQueryBuilder('i').orderBy('i.id', 'ASC');
    if (query.country) qb.andWhere('i.country = :country', { country: query.country.toUpperCase() });
    if (query.search) {
      qb.andWhere(`(i.name ILIKE :q OR i.id ILIKE :q OR i.bank_code = :exact)`, {
        q: `%${escapeLike(query.search)}%`,
        exact: query.search,
      });
    }
    return qb.getMany();
  }

  async get(id: string): Promise<Institution> {
    const found = await this.repo.findOneBy({ id });
    if (!found) throw AppError.notFound('institution', id);
    return found;
  }

  /** Upserts the seeded institutions; safe to run on every start and from many replicas at once. */
  async seed(sandboxPluginUrl: string): Promise<void> {
    await this.repo.upsert(seededInstitutions(sandboxPluginUrl), { conflictPaths: ['id'] });
  }
}
