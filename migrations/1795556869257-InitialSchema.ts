import { MigrationInterface, QueryRunner } from "typeorm";

export class InitialSchema1795556869257 implements MigrationInterface {
    name = 'InitialSchema1795556869257'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE TABLE "sessions" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "platform" character varying(16) NOT NULL DEFAULT 'zoom',
                "product" character varying(32) NOT NULL DEFAULT 'meeting',
                "meeting_id" character varying(32),
                "meeting_uuid" character varying(256),
                "status" character varying(32) NOT NULL DEFAULT 'created',
                "stop_reason" integer,
                "stop_reason_name" character varying(64),
                "failure_reason" text,
                "capture_policy" jsonb NOT NULL DEFAULT '{}'::jsonb,
                "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb,
                "started_at" TIMESTAMP WITH TIME ZONE,
                "ended_at" TIMESTAMP WITH TIME ZONE,
                "version" integer NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_3238ef96f18b355b671619111bc" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_sessions_meeting_id" ON "sessions" ("meeting_id")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_sessions_meeting_uuid" ON "sessions" ("meeting_uuid")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_sessions_status" ON "sessions" ("status")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_sessions_created_at_id" ON "sessions" ("created_at", "id")
        `);
        await queryRunner.query(`
            CREATE TABLE "participants" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "session_id" uuid NOT NULL,
                "zoom_user_id" character varying(64) NOT NULL,
                "user_name" character varying(512),
                "joined_at" TIMESTAMP WITH TIME ZONE,
                "left_at" TIMESTAMP WITH TIME ZONE,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_1cda06c31eec1c95b3365a0283f" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_participants_session_user" ON "participants" ("session_id", "zoom_user_id")
        `);
        await queryRunner.query(`
            CREATE TABLE "rtms_streams" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "rtms_stream_id" character varying(128) NOT NULL,
                "session_id" uuid NOT NULL,
                "server_urls" text NOT NULL,
                "status" character varying(32) NOT NULL DEFAULT 'pending',
                "owner_worker_id" character varying(128),
                "connected_at" TIMESTAMP WITH TIME ZONE,
                "last_keepalive_at" TIMESTAMP WITH TIME ZONE,
                "reconnect_counts" jsonb NOT NULL DEFAULT '{}'::jsonb,
                "failover_count" integer NOT NULL DEFAULT '0',
                "stop_reason" integer,
                "failure_reason" text,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_b0683e287ab418d123b2c3a8b64" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_rtms_streams_rtms_stream_id" ON "rtms_streams" ("rtms_stream_id")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_rtms_streams_session_id" ON "rtms_streams" ("session_id")
        `);
        await queryRunner.query(`
            CREATE TABLE "session_events" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "session_id" uuid,
                "source" character varying(16) NOT NULL,
                "event_type" character varying(128) NOT NULL,
                "dedupe_key" character varying(128) NOT NULL,
                "rtms_stream_id" character varying(128),
                "event_ts" bigint,
                "payload" jsonb NOT NULL,
                "status" character varying(16) NOT NULL DEFAULT 'received',
                "error" text,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "processed_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_aeae988940cef0a489a14200af3" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_session_events_event_type" ON "session_events" ("event_type")
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_session_events_dedupe_key" ON "session_events" ("dedupe_key")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_session_events_rtms_stream_id" ON "session_events" ("rtms_stream_id")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_session_events_session_id_created_at" ON "session_events" ("session_id", "created_at")
        `);
        await queryRunner.query(`
            ALTER TABLE "participants"
            ADD CONSTRAINT "FK_0874e4c10e89b190f5c9b07e95b" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "rtms_streams"
            ADD CONSTRAINT "FK_4adfea35bd6fb3fba1a5a2450c9" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "session_events"
            ADD CONSTRAINT "FK_7e4699f97af1e889b595350dd04" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "session_events" DROP CONSTRAINT "FK_7e4699f97af1e889b595350dd04"
        `);
        await queryRunner.query(`
            ALTER TABLE "rtms_streams" DROP CONSTRAINT "FK_4adfea35bd6fb3fba1a5a2450c9"
        `);
        await queryRunner.query(`
            ALTER TABLE "participants" DROP CONSTRAINT "FK_0874e4c10e89b190f5c9b07e95b"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_session_events_session_id_created_at"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_session_events_rtms_stream_id"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_session_events_dedupe_key"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_session_events_event_type"
        `);
        await queryRunner.query(`
            DROP TABLE "session_events"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_rtms_streams_session_id"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_rtms_streams_rtms_stream_id"
        `);
        await queryRunner.query(`
            DROP TABLE "rtms_streams"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."UQ_participants_session_user"
        `);
        await queryRunner.query(`
            DROP TABLE "participants"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_sessions_created_at_id"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_sessions_status"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_sessions_meeting_uuid"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_sessions_meeting_id"
        `);
        await queryRunner.query(`
            DROP TABLE "sessions"
        `);
    }

}
