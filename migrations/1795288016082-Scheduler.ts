import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Scheduler1795288016082 implements MigrationInterface {
  name = 'Scheduler1795288016082';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "scheduler_runs" ("key" character varying(200) NOT NULL, "claimed_by" character varying(128) NOT NULL, "claimed_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP(3) WITH TIME ZONE, CONSTRAINT "pk_scheduler_runs" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_scheduler_runs_claimed" ON "scheduler_runs"  ("claimed_at") `);
    await queryRunner.query(`ALTER TABLE "connections" ADD "consent_warned_for" TIMESTAMP(3) WITH TIME ZONE`);
    await queryRunner.query(
      `CREATE INDEX "ix_connections_consent" ON "connections"  ("consent_expires_at") WHERE "consent_expires_at" IS NOT NULL AND "status" IN ('INITIATED', 'ACTIVE')`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_connections_consent"`);
    await queryRunner.query(`ALTER TABLE "connections" DROP COLUMN "consent_warned_for"`);
    await queryRunner.query(`DROP INDEX "public"."ix_scheduler_runs_claimed"`);
    await queryRunner.query(`DROP TABLE "scheduler_runs"`);
  }
}
