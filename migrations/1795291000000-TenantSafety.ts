import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenant safety: jobs carry a claim priority (someone waiting before the scheduler) and their institution (so a
 * provider's rate limit can pause one institution rather than every one behind the provider); pauses are keyed by
 * scope; mutations' Idempotency-Keys are remembered.
 */
export class TenantSafety1795291000000 implements MigrationInterface {
  name = 'TenantSafety1795291000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "jobs" ADD "institution_id" character varying(32)`);
    await queryRunner.query(
      `UPDATE "jobs" j SET "institution_id" = c."institution_id" FROM "connections" c WHERE c."id" = j."connection_id"`,
    );
    await queryRunner.query(`ALTER TABLE "jobs" ALTER COLUMN "institution_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "jobs" ADD "priority" smallint NOT NULL DEFAULT '0'`);
    await queryRunner.query(`DROP INDEX "public"."ix_jobs_claimable"`);
    await queryRunner.query(`CREATE INDEX "ix_jobs_claimable" ON "jobs" ("priority", "run_at", "id") WHERE "status" = 'queued'`);

    await queryRunner.query(`ALTER TABLE "provider_pauses" ALTER COLUMN "provider_key" TYPE character varying(100)`);
    await queryRunner.query(`ALTER TABLE "provider_pauses" RENAME COLUMN "provider_key" TO "scope"`);
    await queryRunner.query(`UPDATE "provider_pauses" SET "scope" = 'provider:' || "scope"`);

    await queryRunner.query(
      `CREATE TABLE "idempotency_keys" ("app_id" uuid NOT NULL, "key" character varying(255) NOT NULL, "procedure" character varying(100) NOT NULL, "request_hash" character varying(64) NOT NULL, "status" character varying(16) NOT NULL, "response_ciphertext" bytea, "response_key_id" character varying(32), "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "locked_until" TIMESTAMP(3) WITH TIME ZONE, CONSTRAINT "ck_idempotency_keys_status" CHECK ("status" IN ('in-progress', 'completed')), CONSTRAINT "pk_idempotency_keys" PRIMARY KEY ("app_id", "key"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_idempotency_keys_created" ON "idempotency_keys" ("created_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_idempotency_keys_created"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);

    // Only provider-wide pauses can be expressed before this migration; narrower ones simply end early.
    await queryRunner.query(`DELETE FROM "provider_pauses" WHERE "scope" NOT LIKE 'provider:%'`);
    await queryRunner.query(`UPDATE "provider_pauses" SET "scope" = substr("scope", length('provider:') + 1)`);
    await queryRunner.query(`ALTER TABLE "provider_pauses" RENAME COLUMN "scope" TO "provider_key"`);
    await queryRunner.query(`ALTER TABLE "provider_pauses" ALTER COLUMN "provider_key" TYPE character varying(64)`);

    await queryRunner.query(`DROP INDEX "public"."ix_jobs_claimable"`);
    await queryRunner.query(`CREATE INDEX "ix_jobs_claimable" ON "jobs" ("run_at", "id") WHERE "status" = 'queued'`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "priority"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "institution_id"`);
  }
}
