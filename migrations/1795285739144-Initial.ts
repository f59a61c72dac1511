import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1795285739144 implements MigrationInterface {
  name = 'Initial1795285739144';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "applications" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "api_key_hash" character varying(64) NOT NULL, "api_key_prefix" character varying(16) NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "key_rotated_at" TIMESTAMP(3) WITH TIME ZONE, CONSTRAINT "pk_applications" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_applications_api_key_hash" ON "applications"  ("api_key_hash") `);
    await queryRunner.query(
      `CREATE TABLE "institutions" ("id" character varying(32) NOT NULL, "name" character varying(200) NOT NULL, "country" character(2) NOT NULL, "provider_key" character varying(64) NOT NULL, "method" character varying(16) NOT NULL, "provider_url" character varying(2048), "bank_code" character varying(16), "datasets" text array NOT NULL, "credential_fields" jsonb NOT NULL DEFAULT '[]', "min_refresh_interval_minutes" integer NOT NULL DEFAULT '60', "status" character varying(16) NOT NULL DEFAULT 'operational', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_institutions_status" CHECK ("status" IN ('operational', 'degraded', 'unavailable')), CONSTRAINT "ck_institutions_method" CHECK ("method" IN ('built-in', 'plug-in')), CONSTRAINT "pk_institutions" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_institutions_country" ON "institutions"  ("country") `);
    await queryRunner.query(
      `CREATE TABLE "connections" ("id" uuid NOT NULL, "app_id" uuid NOT NULL, "user_id" character varying(255) NOT NULL, "institution_id" character varying(32) NOT NULL, "method" character varying(16) NOT NULL, "service_provider" character varying(64) NOT NULL, "reference" character varying(255), "name" character varying(255), "scopes" text array, "datasets" text array, "status" character varying(16) NOT NULL DEFAULT 'INITIATED', "state" character varying(32) NOT NULL DEFAULT 'pending', "provider_status" character varying(64), "error" jsonb, "connected_at" TIMESTAMP(3) WITH TIME ZONE, "disconnected_at" TIMESTAMP(3) WITH TIME ZONE, "dataset_state" jsonb NOT NULL DEFAULT '{}', "consent_expires_at" TIMESTAMP(3) WITH TIME ZONE, "auto_refresh" boolean NOT NULL DEFAULT true, "refresh_interval_minutes" integer NOT NULL DEFAULT '1440', "last_refreshed_at" TIMESTAMP(3) WITH TIME ZONE, "next_refresh_at" TIMESTAMP(3) WITH TIME ZONE, "credentials_ciphertext" bytea, "credentials_key_id" character varying(32), "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "version" integer NOT NULL, CONSTRAINT "ck_connections_refresh_interval" CHECK ("refresh_interval_minutes" > 0), CONSTRAINT "ck_connections_error_iff_error_state" CHECK (("state" IN ('dependency-failed', 'creation-failed', 'completed-outdated')) = ("error" IS NOT NULL)), CONSTRAINT "ck_connections_state" CHECK ("state" IN ('pending', 'dependency-completed', 'dependency-failed', 'creation-in-progress', 'completed-up-to-date', 'creation-failed', 'update-in-progress', 'completed-outdated')), CONSTRAINT "ck_connections_status" CHECK ("status" IN ('INITIATED', 'ACTIVE', 'EXPIRED', 'DISCONNECTED')), CONSTRAINT "pk_connections" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_connections_refresh_due" ON "connections"  ("next_refresh_at") WHERE "auto_refresh" AND "status" = 'ACTIVE'`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_connections_app_institution" ON "connections"  ("app_id", "institution_id", "created_at", "id") `,
    );
    await queryRunner.query(`CREATE INDEX "ix_connections_app_status" ON "connections"  ("app_id", "status", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_connections_app_user" ON "connections"  ("app_id", "user_id", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_connections_app_created" ON "connections"  ("app_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "jobs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "app_id" uuid NOT NULL, "connection_id" uuid NOT NULL, "kind" character varying(16) NOT NULL, "status" character varying(32) NOT NULL DEFAULT 'queued', "steps" jsonb NOT NULL DEFAULT '[]', "error" jsonb, "attempts" integer NOT NULL DEFAULT '0', "run_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "locked_by" character varying(128), "locked_until" TIMESTAMP(3) WITH TIME ZONE, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP(3) WITH TIME ZONE, "finished_at" TIMESTAMP(3) WITH TIME ZONE, CONSTRAINT "ck_jobs_status" CHECK ("status" IN ('queued', 'running', 'awaiting-challenge', 'succeeded', 'failed')), CONSTRAINT "ck_jobs_kind" CHECK ("kind" IN ('create', 'refresh', 'update')), CONSTRAINT "pk_jobs" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_jobs_app_connection" ON "jobs"  ("app_id", "connection_id", "created_at") `);
    await queryRunner.query(`CREATE INDEX "ix_jobs_claimable" ON "jobs"  ("run_at") WHERE "status" = 'queued'`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_jobs_one_active_per_connection" ON "jobs"  ("connection_id") WHERE "status" IN ('queued', 'running', 'awaiting-challenge')`,
    );
    await queryRunner.query(
      `ALTER TABLE "connections" ADD CONSTRAINT "fk_connections_app" FOREIGN KEY ("app_id") REFERENCES "applications"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "connections" ADD CONSTRAINT "fk_connections_institution" FOREIGN KEY ("institution_id") REFERENCES "institutions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "jobs" ADD CONSTRAINT "fk_jobs_connection" FOREIGN KEY ("connection_id") REFERENCES "connections"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "jobs" DROP CONSTRAINT "fk_jobs_connection"`);
    await queryRunner.query(`ALTER TABLE "connections" DROP CONSTRAINT "fk_connections_institution"`);
    await queryRunner.query(`ALTER TABLE "connections" DROP CONSTRAINT "fk_connections_app"`);
    await queryRunner.query(`DROP INDEX "public"."uq_jobs_one_active_per_connection"`);
    await queryRunner.query(`DROP INDEX "public"."ix_jobs_claimable"`);
    await queryRunner.query(`DROP INDEX "public"."ix_jobs_app_connection"`);
    await queryRunner.query(`DROP TABLE "jobs"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connections_app_created"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connections_app_user"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connections_app_status"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connections_app_institution"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connections_refresh_due"`);
    await queryRunner.query(`DROP TABLE "connections"`);
    await queryRunner.query(`DROP INDEX "public"."ix_institutions_country"`);
    await queryRunner.query(`DROP TABLE "institutions"`);
    await queryRunner.query(`DROP INDEX "public"."uq_applications_api_key_hash"`);
    await queryRunner.query(`DROP TABLE "applications"`);
  }
}
