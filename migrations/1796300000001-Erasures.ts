import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Erasure by participant (docs/retention.md "Erasure"):
 * - `erasures`: one request to erase one person's data across sessions, its progress and
 *   its report. The subject is personal data: the row keeps its kind and a sha256 of the
 *   normalised value for audit; the value itself is kept only sealed (key ring) while the
 *   job runs, and cleared when it ends.
 * - `participants.email`: filled from Zoom's meeting.participant_joined webhook (RTMS
 *   carries no email), so an erasure can be asked by email.
 */
export class Erasures1796300000001 implements MigrationInterface {
  name = 'Erasures1796300000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "erasures" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "started_at" TIMESTAMP WITH TIME ZONE,
        "finished_at" TIMESTAMP WITH TIME ZONE,
        "status" character varying(16) NOT NULL DEFAULT 'queued',
        "subject_kind" character varying(16) NOT NULL,
        "subject_hash" character varying(64) NOT NULL,
        "subject_sealed" text,
        "requested_by" character varying(64),
        "owner" character varying(64),
        "subject_unresolved" boolean NOT NULL DEFAULT false,
        "counts" jsonb NOT NULL DEFAULT '{}',
        "bytes_deleted" bigint NOT NULL DEFAULT 0,
        "sessions_affected" uuid array NOT NULL DEFAULT '{}',
        "sessions_held" uuid array NOT NULL DEFAULT '{}',
        "mixed_audio_sessions" uuid array NOT NULL DEFAULT '{}',
        "spool_segments_dropped" integer NOT NULL DEFAULT 0,
        "error" text,
        CONSTRAINT "PK_erasures" PRIMARY KEY ("id"),
        CONSTRAINT "CHK_erasures_status" CHECK ("status" IN ('queued', 'running', 'completed', 'failed')),
        CONSTRAINT "CHK_erasures_subject_kind" CHECK ("subject_kind" IN ('zoom_user_id', 'user_email', 'user_name'))
      )`);
    await queryRunner.query(`CREATE INDEX "IDX_erasures_created_at_id" ON "erasures" ("created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "IDX_erasures_owner_created_at_id" ON "erasures" ("owner", "created_at", "id")`);
    await queryRunner.query(`ALTER TABLE "participants" ADD "email" character varying(320)`);
    await queryRunner.query(`CREATE INDEX "IDX_participants_email" ON "participants" ("email")`);
    // Erasure finds a person's rows by user across sessions: one index per media table.
    await queryRunner.query(`CREATE INDEX "IDX_media_artifacts_user_session" ON "media_artifacts" ("user_id", "session_id")`);
    await queryRunner.query(`CREATE INDEX "IDX_transcript_segments_user_session" ON "transcript_segments" ("user_id", "session_id")`);
    await queryRunner.query(`CREATE INDEX "IDX_audio_segments_user_session" ON "audio_segments" ("user_id", "session_id")`);
    await queryRunner.query(`CREATE INDEX "IDX_participants_user" ON "participants" ("zoom_user_id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_participants_user"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_audio_segments_user_session"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_transcript_segments_user_session"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_media_artifacts_user_session"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_participants_email"`);
    await queryRunner.query(`ALTER TABLE "participants" DROP COLUMN "email"`);
    await queryRunner.query(`DROP TABLE "erasures"`);
  }
}
