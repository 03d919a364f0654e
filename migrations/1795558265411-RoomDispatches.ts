import { MigrationInterface, QueryRunner } from "typeorm";

export class RoomDispatches1795558265411 implements MigrationInterface {
    name = 'RoomDispatches1795558265411'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "room_dispatches" ("id" uuid NOT NULL, "room_id" character varying(64) NOT NULL, "room_name" character varying(256), "meeting_number" character varying(20) NOT NULL, "passcode_enc" text, "session_id" uuid, "source" character varying(8) NOT NULL DEFAULT 'api', "status" character varying(16) NOT NULL DEFAULT 'queued', "leave_after_seconds" integer NOT NULL, "round" integer NOT NULL DEFAULT '1', "attempts" integer NOT NULL DEFAULT '0', "throttled_count" integer NOT NULL DEFAULT '0', "failed_step" character varying(8), "zoom_status" integer, "zoom_code" character varying(32), "zoom_message" text, "error" text, "next_attempt_at" TIMESTAMP WITH TIME ZONE, "joined_at" TIMESTAMP WITH TIME ZONE, "leave_at" TIMESTAMP WITH TIME ZONE, "left_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_8143a190056605169ebcd46f359" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_room_dispatches_active" ON "room_dispatches" ("room_id", "meeting_number") WHERE "status" IN ('queued', 'joining', 'joined', 'leaving')`);
        await queryRunner.query(`CREATE INDEX "IDX_room_dispatches_status" ON "room_dispatches" ("status", "created_at") `);
        await queryRunner.query(`CREATE INDEX "IDX_room_dispatches_session" ON "room_dispatches" ("session_id", "created_at") `);
        await queryRunner.query(`ALTER TABLE "room_dispatches" ADD CONSTRAINT "FK_29dee8cb4ef4a77c03320653644" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "room_dispatches" DROP CONSTRAINT "FK_29dee8cb4ef4a77c03320653644"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_room_dispatches_session"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_room_dispatches_status"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_room_dispatches_active"`);
        await queryRunner.query(`DROP TABLE "room_dispatches"`);
    }

}
