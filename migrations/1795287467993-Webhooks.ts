import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Webhooks1795287467993 implements MigrationInterface {
  name = 'Webhooks1795287467993';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "events" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "position" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "app_id" uuid NOT NULL, "type" character varying(64) NOT NULL, "user_id" character varying(255), "connection_id" uuid, "sequence" integer, "endpoint_id" uuid, "occurred_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "data" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "pk_events" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_events_occurred" ON "events"  ("occurred_at") `);
    await queryRunner.query(`CREATE INDEX "ix_events_app_connection_sequence" ON "events"  ("app_id", "connection_id", "sequence") `);
    await queryRunner.query(`CREATE INDEX "ix_events_app_position" ON "events"  ("app_id", "position") `);
    await queryRunner.query(
      `CREATE TABLE "webhook_endpoints" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "app_id" uuid NOT NULL, "url" character varying(2048) NOT NULL, "description" character varying(500), "event_types" text array, "connection_ids" uuid array, "enabled" boolean NOT NULL DEFAULT true, "disabled_reason" character varying(500), "secret_ciphertext" bytea NOT NULL, "secret_key_id" character varying(32) NOT NULL, "previous_secret_ciphertext" bytea, "previous_secret_key_id" character varying(32), "previous_secret_expires_at" TIMESTAMP(3) WITH TIME ZONE, "failing_since" TIMESTAMP(3) WITH TIME ZONE, "last_success_at" TIMESTAMP(3) WITH TIME ZONE, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_webhook_endpoints" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_webhook_endpoints_app" ON "webhook_endpoints"  ("app_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "notification_rules" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "app_id" uuid NOT NULL, "trigger_event" character varying(64) NOT NULL, "params" jsonb NOT NULL DEFAULT '{}', "connection_ids" uuid array, "endpoint_id" uuid NOT NULL, "include_details" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_notification_rules_trigger" CHECK ("trigger_event" IN ('NEW_ACCOUNT_BALANCE', 'NEW_TRANSACTIONS', 'BANK_LOGIN_ERROR', 'LOW_ACCOUNT_BALANCE', 'HIGH_TRANSACTION_AMOUNT', 'CONNECTION_STATUS_CHANGED')), CONSTRAINT "pk_notification_rules" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_notification_rules_app" ON "notification_rules"  ("app_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "webhook_deliveries" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "app_id" uuid NOT NULL, "event_id" uuid NOT NULL, "endpoint_id" uuid NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'pending', "attempts" integer NOT NULL DEFAULT '0', "schedule_start" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP(3) WITH TIME ZONE, "last_status_code" integer, "last_error" character varying(500), "locked_by" character varying(128), "locked_until" TIMESTAMP(3) WITH TIME ZONE, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "delivered_at" TIMESTAMP(3) WITH TIME ZONE, CONSTRAINT "ck_webhook_deliveries_status" CHECK ("status" IN ('pending', 'succeeded', 'failed', 'dead')), CONSTRAINT "pk_webhook_deliveries" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_webhook_deliveries_app" ON "webhook_deliveries"  ("app_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE INDEX "ix_webhook_deliveries_in_flight" ON "webhook_deliveries"  ("endpoint_id", "locked_until") WHERE "locked_until" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_webhook_deliveries_due" ON "webhook_deliveries"  ("endpoint_id", "next_attempt_at") WHERE "status" = 'pending'`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_webhook_deliveries_event_endpoint" ON "webhook_deliveries"  ("event_id", "endpoint_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_delivery_attempts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "delivery_id" uuid NOT NULL, "attempted_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "status_code" integer, "error" character varying(500), "latency_ms" integer NOT NULL, "response_body" character varying(1024), CONSTRAINT "pk_webhook_delivery_attempts" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_webhook_delivery_attempts_attempted" ON "webhook_delivery_attempts"  ("attempted_at") `);
    await queryRunner.query(
      `CREATE INDEX "ix_webhook_delivery_attempts_delivery" ON "webhook_delivery_attempts"  ("delivery_id", "attempted_at") `,
    );
    await queryRunner.query(`ALTER TABLE "connections" ADD "failing_since" TIMESTAMP(3) WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "connections" ADD "consecutive_failures" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "connections" ADD "event_sequence" integer NOT NULL DEFAULT '0'`);
    // A connection already in error is failing since its last write: so its repair is still announced.
    await queryRunner.query(
      `UPDATE "connections" SET "failing_since" = "updated_at", "consecutive_failures" = 1 WHERE "error" IS NOT NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "fk_webhook_endpoints_app" FOREIGN KEY ("app_id") REFERENCES "applications"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "notification_rules" ADD CONSTRAINT "fk_notification_rules_endpoint" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "fk_webhook_deliveries_event" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "fk_webhook_deliveries_endpoint" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_delivery_attempts" ADD CONSTRAINT "fk_webhook_delivery_attempts_delivery" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_delivery_attempts" DROP CONSTRAINT "fk_webhook_delivery_attempts_delivery"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "fk_webhook_deliveries_endpoint"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "fk_webhook_deliveries_event"`);
    await queryRunner.query(`ALTER TABLE "notification_rules" DROP CONSTRAINT "fk_notification_rules_endpoint"`);
    await queryRunner.query(`ALTER TABLE "webhook_endpoints" DROP CONSTRAINT "fk_webhook_endpoints_app"`);
    await queryRunner.query(`ALTER TABLE "connections" DROP COLUMN "event_sequence"`);
    await queryRunner.query(`ALTER TABLE "connections" DROP COLUMN "consecutive_failures"`);
    await queryRunner.query(`ALTER TABLE "connections" DROP COLUMN "failing_since"`);
    await queryRunner.query(`DROP INDEX "public"."ix_webhook_delivery_attempts_delivery"`);
    await queryRunner.query(`DROP INDEX "public"."ix_webhook_delivery_attempts_attempted"`);
    await queryRunner.query(`DROP TABLE "webhook_delivery_attempts"`);
    await queryRunner.query(`DROP INDEX "public"."uq_webhook_deliveries_event_endpoint"`);
    await queryRunner.query(`DROP INDEX "public"."ix_webhook_deliveries_due"`);
    await queryRunner.query(`DROP INDEX "public"."ix_webhook_deliveries_in_flight"`);
    await queryRunner.query(`DROP INDEX "public"."ix_webhook_deliveries_app"`);
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP INDEX "public"."ix_notification_rules_app"`);
    await queryRunner.query(`DROP TABLE "notification_rules"`);
    await queryRunner.query(`DROP INDEX "public"."ix_webhook_endpoints_app"`);
    await queryRunner.query(`DROP TABLE "webhook_endpoints"`);
    await queryRunner.query(`DROP INDEX "public"."ix_events_app_position"`);
    await queryRunner.query(`DROP INDEX "public"."ix_events_app_connection_sequence"`);
    await queryRunner.query(`DROP INDEX "public"."ix_events_occurred"`);
    await queryRunner.query(`DROP TABLE "events"`);
  }
}
