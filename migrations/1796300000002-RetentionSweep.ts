import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The retention sweep (docs/retention.md):
 * - `sessions.retention_from`: when a session's retention clock started — its end, or its
 *   creation while it never streamed; null while it streams (never purged). Kept by
 *   SessionsService.transition, so the sweep finds expired sessions by index.
 * - `sessions.{media,transcript,events}_purged_at`: what the sweep has purged, so it never
 *   rescans a purged session; one partial index per category holds only the unpurged,
 *   unheld sessions, oldest clock first.
 * - `retention_purges`: a purge in progress (counts so far), so a sweep killed halfway
 *   resumes and its deletion_log entry still adds up.
 */
const RETENTION_OVERRIDE_PREDICATE =
  `legal_hold_at IS NULL AND retention_from IS NOT NULL AND ((capture_policy->'retention'->>'media_days') IS NOT NULL OR (capture_policy->'retention'->>'transcript_days') IS NOT NULL OR (capture_policy->'retention'->>'events_days') IS NOT NULL)`;

export class RetentionSweep1796300000002 implements MigrationInterface {
  name = 'RetentionSweep1796300000002';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "sessions" ADD "retention_from" TIMESTAMP WITH TIME ZONE DEFAULT now()`);
    await queryRunner.query(`ALTER TABLE "sessions" ADD "media_purged_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "sessions" ADD "transcript_purged_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "sessions" ADD "events_purged_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`
      UPDATE "sessions" SET "retention_from" = CASE
        WHEN "status" IN ('stopped', 'failed') THEN COALESCE("ended_at", "updated_at")
        WHEN "started_at" IS NULL AND "status" IN ('created', 'rtms_start_requested') THEN "created_at"
      END`);
    for (const c of ['media', 'transcript', 'events']) {
      await queryRunner.query(
        `CREATE INDEX "IDX_sessions_retention_${c}" ON "sessions" ("retention_from", "id") WHERE legal_hold_at IS NULL AND ${c}_purged_at IS NULL AND retention_from IS NOT NULL`,
      );
    }
    // The few sessions with retention of their own (capture_policy.retention.*_days set): the sweep's second work list.
    await queryRunner.query(
      `CREATE INDEX "IDX_sessions_retention_override" ON "sessions" ("retention_from", "id") WHERE ${RETENTION_OVERRIDE_PREDICATE}`,
    );
    await queryRunner.query(`
      CREATE TABLE "retention_purges" (
        "session_id" uuid NOT NULL,
        "category" character varying(16) NOT NULL,
        "objects_deleted" integer NOT NULL DEFAULT 0,
        "bytes_deleted" bigint NOT NULL DEFAULT 0,
        "rows_deleted" jsonb NOT NULL DEFAULT '{}',
        "started_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_retention_purges" PRIMARY KEY ("session_id", "category"),
        CONSTRAINT "CHK_retention_purges_category" CHECK ("category" IN ('media', 'transcript', 'events')),
        CONSTRAINT "FK_retention_purges_session" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "retention_purges"`);
    await queryRunner.query(`DROP INDEX "IDX_sessions_retention_override"`);
    for (const c of ['events', 'transcript', 'media']) await queryRunner.query(`DROP INDEX "IDX_sessions_retention_${c}"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "events_purged_at"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "transcript_purged_at"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "media_purged_at"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "retention_from"`);
  }
}
