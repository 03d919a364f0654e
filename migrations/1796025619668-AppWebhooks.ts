import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Delivering to apps: the app-event outbox (app_events, with a per-session sequence in
 * app_event_sequences) and signed outbound webhooks — endpoints (secrets sealed with the
 * token key ring), one message per event and endpoint (stored before it is queued), every
 * attempt, and what happened to an endpoint (disabled, secret rotated).
 */
export class AppWebhooks1796025619668 implements MigrationInterface {
    name = 'AppWebhooks1796025619668';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "app_event_sequences" ("session_id" uuid NOT NULL, "last_sequence" bigint NOT NULL, CONSTRAINT "PK_6959bf0af0f76eff326c02a6967" PRIMARY KEY ("session_id"))`);
        await queryRunner.query(`CREATE TABLE "app_events" ("id" uuid NOT NULL, "type" character varying(64) NOT NULL, "session_id" uuid, "sequence" bigint, "data" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "fanned_out_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_0c4bc65043702e0d00971c544b8" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_app_events_pending_fanout" ON "app_events" ("fanned_out_at") WHERE fanned_out_at IS NULL`);
        await queryRunner.query(`CREATE INDEX "IDX_app_events_session_id_sequence" ON "app_events" ("session_id", "sequence") `);
        await queryRunner.query(`CREATE TABLE "webhook_endpoints" ("id" uuid NOT NULL, "url" text NOT NULL, "description" character varying(512), "events" text array NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "metadata" jsonb NOT NULL DEFAULT '{}', "secret_enc" text NOT NULL, "previous_secret_enc" text, "previous_secret_expires_at" TIMESTAMP WITH TIME ZONE, "failing_since" TIMESTAMP WITH TIME ZONE, "disabled_at" TIMESTAMP WITH TIME ZONE, "disabled_reason" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_054c4cfb95223732f5939d2d546" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE TABLE "webhook_messages" ("id" uuid NOT NULL, "endpoint_id" uuid NOT NULL, "event_id" uuid NOT NULL, "event_type" character varying(64) NOT NULL, "body" text NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'pending', "attempts" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP WITH TIME ZONE, "last_status_code" integer, "last_error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "delivered_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_526e8e1655924920adc4cd30dcd" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_webhook_messages_due" ON "webhook_messages" ("next_attempt_at") WHERE status = 'pending'`);
        await queryRunner.query(`CREATE INDEX "IDX_webhook_messages_endpoint_created" ON "webhook_messages" ("endpoint_id", "created_at") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_webhook_messages_endpoint_event" ON "webhook_messages" ("endpoint_id", "event_id") `);
        await queryRunner.query(`CREATE TABLE "webhook_attempts" ("id" uuid NOT NULL, "message_id" uuid NOT NULL, "attempt_no" integer NOT NULL, "trigger" character varying(16) NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "status_code" integer, "latency_ms" integer NOT NULL, "response_body" text, "error" text, CONSTRAINT "PK_2de7e7887ad97de459adab62638" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_webhook_attempts_message" ON "webhook_attempts" ("message_id", "attempt_no") `);
        await queryRunner.query(`CREATE TABLE "webhook_endpoint_events" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "endpoint_id" uuid NOT NULL, "type" character varying(64) NOT NULL, "details" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_92e41cadabf5730baff6f0e127e" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_webhook_endpoint_events_endpoint" ON "webhook_endpoint_events" ("endpoint_id", "created_at") `);
        await queryRunner.query(`ALTER TABLE "webhook_messages" ADD CONSTRAINT "FK_2ebdc23f5ae2b27a09c8446c899" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "webhook_attempts" ADD CONSTRAINT "FK_7dbf25c6722243e3cb16ef9fb27" FOREIGN KEY ("message_id") REFERENCES "webhook_messages"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "webhook_endpoint_events" ADD CONSTRAINT "FK_1899eb5ded6b6b057972a297c8b" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "webhook_endpoint_events" DROP CONSTRAINT "FK_1899eb5ded6b6b057972a297c8b"`);
        await queryRunner.query(`ALTER TABLE "webhook_attempts" DROP CONSTRAINT "FK_7dbf25c6722243e3cb16ef9fb27"`);
        await queryRunner.query(`ALTER TABLE "webhook_messages" DROP CONSTRAINT "FK_2ebdc23f5ae2b27a09c8446c899"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_webhook_endpoint_events_endpoint"`);
        await queryRunner.query(`DROP TABLE "webhook_endpoint_events"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_webhook_attempts_message"`);
        await queryRunner.query(`DROP TABLE "webhook_attempts"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_webhook_messages_endpoint_event"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_webhook_messages_endpoint_created"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_webhook_messages_due"`);
        await queryRunner.query(`DROP TABLE "webhook_messages"`);
        await queryRunner.query(`DROP TABLE "webhook_endpoints"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_app_events_session_id_sequence"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_app_events_pending_fanout"`);
        await queryRunner.query(`DROP TABLE "app_events"`);
        await queryRunner.query(`DROP TABLE "app_event_sequences"`);
    }

}
