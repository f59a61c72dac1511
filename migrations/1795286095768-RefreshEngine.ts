import type { MigrationInterface, QueryRunner } from 'typeorm';

// Refresh engine: accounts, transactions, provider pauses; jobs learn their provider, failures and challenges;
// connections learn whether the user must act. Reviewed by hand: jobs.provider_key is backfilled before it becomes
// NOT NULL, and the stale-scan index gains "NOT user_action_required" (TypeORM does not diff partial-index predicates).

export class RefreshEngine1795286095768 implements MigrationInterface {
  name = 'RefreshEngine1795286095768';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "accounts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "app_id" uuid NOT NULL, "connection_id" uuid NOT NULL, "provider_account_id" character varying(255) NOT NULL, "name" character varying(255) NOT NULL, "type" character varying(32) NOT NULL, "currency" character(3) NOT NULL, "balance" numeric(20,4) NOT NULL, "available_balance" numeric(20,4), "last_updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_accounts" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_accounts_app_connection" ON "accounts"  ("app_id", "connection_id") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_accounts_connection_provider_id" ON "accounts"  ("connection_id", "provider_account_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "provider_pauses" ("provider_key" character varying(64) NOT NULL, "paused_until" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "reason" character varying(500), CONSTRAINT "pk_provider_pauses" PRIMARY KEY ("provider_key"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "transactions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "app_id" uuid NOT NULL, "connection_id" uuid NOT NULL, "account_id" uuid NOT NULL, "provider_transaction_id" character varying(255) NOT NULL, "amount" numeric(20,4) NOT NULL, "currency" character(3) NOT NULL, "description" character varying(1000) NOT NULL, "booked_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "status" character varying(16) NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_transactions_status" CHECK ("status" IN ('pending', 'posted')), CONSTRAINT "pk_transactions" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_transactions_app_connection_booked" ON "transactions"  ("app_id", "connection_id", "booked_at", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_transactions_app_account_booked" ON "transactions"  ("app_id", "account_id", "booked_at", "id") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_transactions_account_provider_id" ON "transactions"  ("account_id", "provider_transaction_id") `,
    );
    await queryRunner.query(`ALTER TABLE "connections" ADD "user_action_required" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`ALTER TABLE "jobs" ADD "provider_key" character varying(64)`);
    await queryRunner.query(
      `UPDATE "jobs" j SET "provider_key" = c."service_provider" FROM "connections" c WHERE c."id" = j."connection_id"`,
    );
    await queryRunner.query(`ALTER TABLE "jobs" ALTER COLUMN "provider_key" SET NOT NULL`);
    await queryRunner.query(`DROP INDEX "public"."ix_connections_refresh_due"`);
    await queryRunner.query(
      `CREATE INDEX "ix_connections_refresh_due" ON "connections"  ("next_refresh_at") WHERE "auto_refresh" AND "status" = 'ACTIVE' AND NOT "user_action_required"`,
    );
    await queryRunner.query(`ALTER TABLE "jobs" ADD "failures" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "jobs" ADD "challenge" jsonb`);
    await queryRunner.query(`ALTER TABLE "jobs" ADD "challenge_response_ciphertext" bytea`);
    await queryRunner.query(`ALTER TABLE "jobs" ADD "challenge_response_key_id" character varying(32)`);
    await queryRunner.query(`CREATE INDEX "ix_jobs_lease" ON "jobs"  ("locked_until") WHERE "status" = 'running'`);
    await queryRunner.query(
      `ALTER TABLE "accounts" ADD CONSTRAINT "fk_accounts_connection" FOREIGN KEY ("connection_id") REFERENCES "connections"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "transactions" ADD CONSTRAINT "fk_transactions_account" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "transactions" DROP CONSTRAINT "fk_transactions_account"`);
    await queryRunner.query(`ALTER TABLE "accounts" DROP CONSTRAINT "fk_accounts_connection"`);
    await queryRunner.query(`DROP INDEX "public"."ix_jobs_lease"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "challenge_response_key_id"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "challenge_response_ciphertext"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "challenge"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "failures"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "provider_key"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connections_refresh_due"`);
    await queryRunner.query(
      `CREATE INDEX "ix_connections_refresh_due" ON "connections"  ("next_refresh_at") WHERE "auto_refresh" AND "status" = 'ACTIVE'`,
    );
    await queryRunner.query(`ALTER TABLE "connections" DROP COLUMN "user_action_required"`);
    await queryRunner.query(`DROP INDEX "public"."uq_transactions_account_provider_id"`);
    await queryRunner.query(`DROP INDEX "public"."ix_transactions_app_account_booked"`);
    await queryRunner.query(`DROP INDEX "public"."ix_transactions_app_connection_booked"`);
    await queryRunner.query(`DROP TABLE "transactions"`);
    await queryRunner.query(`DROP TABLE "provider_pauses"`);
    await queryRunner.query(`DROP INDEX "public"."uq_accounts_connection_provider_id"`);
    await queryRunner.query(`DROP INDEX "public"."ix_accounts_app_connection"`);
    await queryRunner.query(`DROP TABLE "accounts"`);
  }
}
