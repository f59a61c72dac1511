import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Retention deletes finished jobs by when they finished: an index on exactly those. */
export class JobRetention1795290000000 implements MigrationInterface {
  name = 'JobRetention1795290000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "ix_jobs_finished" ON "jobs" ("finished_at") WHERE "status" IN ('succeeded', 'failed')`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_jobs_finished"`);
  }
}
