import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The claim scans queued jobs in (run_at, id) order and stops after a batch: the index now has both columns. */
export class ClaimIndex1795289000000 implements MigrationInterface {
  name = 'ClaimIndex1795289000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_jobs_claimable"`);
    await queryRunner.query(`CREATE INDEX "ix_jobs_claimable" ON "jobs" ("run_at", "id") WHERE "status" = 'queued'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_jobs_claimable"`);
    await queryRunner.query(`CREATE INDEX "ix_jobs_claimable" ON "jobs" ("run_at") WHERE "status" = 'queued'`);
  }
}
