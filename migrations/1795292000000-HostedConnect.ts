import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hosted Connect: connect sessions, the redirect URIs an app registers, how each institution signs users in, how
 * long a connection's consent should last, and the OAuth state of a job waiting on the bank's redirect.
 */
export class HostedConnect1795292000000 implements MigrationInterface {
  name = 'HostedConnect1795292000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "connect_sessions" ("id" uuid NOT NULL, "app_id" uuid NOT NULL, "user_id" character varying(255) NOT NULL, "institution_id" character varying(32), "connection_id" uuid, "repair" boolean NOT NULL DEFAULT false, "job_id" uuid, "datasets" text array, "redirect_uri" character varying(2048), "consent_days" integer NOT NULL, "locale" character varying(8), "status" character varying(16) NOT NULL DEFAULT 'created', "step" character varying(16) NOT NULL DEFAULT 'consent', "error" jsonb, "attempts_left" integer NOT NULL, "token_hash" character varying(64) NOT NULL, "token_ciphertext" bytea NOT NULL, "token_key_id" character varying(32) NOT NULL, "expires_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "finished_at" TIMESTAMP(3) WITH TIME ZONE, CONSTRAINT "ck_connect_sessions_step" CHECK ("step" IN ('consent', 'bank', 'sign-in', 'progress', 'done')), CONSTRAINT "ck_connect_sessions_status" CHECK ("status" IN ('created', 'in-progress', 'awaiting-user', 'completed', 'failed', 'expired', 'cancelled')), CONSTRAINT "pk_connect_sessions" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_connect_sessions_job" ON "connect_sessions" ("job_id") WHERE "job_id" IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "ix_connect_sessions_app_created" ON "connect_sessions" ("app_id", "created_at", "id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_connect_sessions_token" ON "connect_sessions" ("token_hash")`);
    await queryRunner.query(`ALTER TABLE "applications" ADD "redirect_uris" text array NOT NULL DEFAULT '{}'`);
    await queryRunner.query(`ALTER TABLE "institutions" ADD "sign_in" character varying(16) NOT NULL DEFAULT 'credentials'`);
    await queryRunner.query(
      `ALTER TABLE "institutions" ADD CONSTRAINT "ck_institutions_sign_in" CHECK ("sign_in" IN ('credentials', 'redirect'))`,
    );
    await queryRunner.query(`ALTER TABLE "connections" ADD "consent_days" integer`);
    await queryRunner.query(`ALTER TABLE "jobs" ADD "challenge_state_hash" character varying(64)`);
    await queryRunner.query(
      `CREATE INDEX "ix_jobs_challenge_state" ON "jobs" ("challenge_state_hash") WHERE "challenge_state_hash" IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_jobs_challenge_state"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "challenge_state_hash"`);
    await queryRunner.query(`ALTER TABLE "connections" DROP COLUMN "consent_days"`);
    await queryRunner.query(`ALTER TABLE "institutions" DROP CONSTRAINT "ck_institutions_sign_in"`);
    await queryRunner.query(`ALTER TABLE "institutions" DROP COLUMN "sign_in"`);
    await queryRunner.query(`ALTER TABLE "applications" DROP COLUMN "redirect_uris"`);
    await queryRunner.query(`DROP INDEX "public"."uq_connect_sessions_token"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connect_sessions_app_created"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connect_sessions_job"`);
    await queryRunner.query(`DROP TABLE "connect_sessions"`);
  }
}
