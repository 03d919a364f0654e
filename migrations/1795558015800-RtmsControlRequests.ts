import { MigrationInterface, QueryRunner } from "typeorm";

export class RtmsControlRequests1795558015800 implements MigrationInterface {
    name = 'RtmsControlRequests1795558015800'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "rtms_control_requests" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "session_id" uuid NOT NULL, "action" character varying(16) NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'queued', "idempotency_key" character varying(255), "request_hash" character varying(64) NOT NULL, "participant_user_id" character varying(128), "auth_mode" character varying(16) NOT NULL, "connection_id" uuid, "job_id" character varying(128), "attempts" integer NOT NULL DEFAULT '0', "throttled_count" integer NOT NULL DEFAULT '0', "zoom_status" integer, "zoom_code" character varying(32), "zoom_message" text, "error" text, "next_attempt_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3b1ebcaaf7aa20e6a668af93f3e" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_rtms_control_requests_in_flight" ON "rtms_control_requests" ("session_id") WHERE "status" IN ('queued', 'running', 'retrying')`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_rtms_control_requests_idempotency" ON "rtms_control_requests" ("session_id", "idempotency_key") WHERE "idempotency_key" IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "IDX_rtms_control_requests_session_created" ON "rtms_control_requests" ("session_id", "created_at") `);
        await queryRunner.query(`ALTER TABLE "rtms_control_requests" ADD CONSTRAINT "FK_f96f2e63e609ea7148264af42ee" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "rtms_control_requests" DROP CONSTRAINT "FK_f96f2e63e609ea7148264af42ee"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_rtms_control_requests_session_created"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_rtms_control_requests_idempotency"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_rtms_control_requests_in_flight"`);
        await queryRunner.query(`DROP TABLE "rtms_control_requests"`);
    }

}
