import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * A statement whose text never changes, run as a named prepared statement of node-postgres: the first run on each
 * pooled connection parses and plans it, later runs only bind and execute, and after five runs PostgreSQL may keep
 * one generic plan instead of planning again. For the hot, fixed statements (the job claim), where planning is a
 * measurable part of the round trip. The name is a digest of the text, so two texts never share one.
 *
 * Behind a PgBouncer in transaction mode this needs its prepared-statement support (`max_prepared_statements`,
 * PgBouncer 1.21 and later).
 */
export class PreparedStatement {
  readonly name: string;

  constructor(readonly text: string) {
    this.name = `cs_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
  }

  /** Runs it through TypeORM's query(), so errors, logging and the manager's transaction are as for any query. */
  run<T = unknown>(db: DataSource | EntityManager, parameters: unknown[]): Promise<T> {
    // TypeORM hands its first argument to pg's Client.query unchanged, and pg takes a query config ({ name, text })
    // there. A fresh object per run: pg writes the run's values into it.
    return db.query({ name: this.name, text: this.text } as unknown as string, parameters);
  }
}

/**
 * A PreparedStatement whose text is built on its first run, from the database it runs on: for statements whose
 * column lists come from the entities' metadata (selectList), which exists only once a DataSource is initialized.
 */
export function preparedOnFirstRun(build: (db: DataSource | EntityManager) => string): Pick<PreparedStatement, 'run'> {
  let statement: PreparedStatement | undefined;
  return { run: (db, parameters) => (statement ??= new PreparedStatement(build(db))).run(db, parameters) };
}
