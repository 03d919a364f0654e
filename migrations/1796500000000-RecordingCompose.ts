import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Composed recordings (docs/recordings.md):
 * - `recording_completions.compose_state`: null = recording.ready announced at capture
 *   completion (no composition); 'pending' = capture complete, the media-compose job
 *   announces it; 'done' / 'failed' = the job announced it (with the recording or its error).
 * - `recording_compositions`: one row per session that was composed or asked to be: the
 *   re-compose revision (names the job), its state and last error.
 * - `media_artifacts.bytes` becomes bigint: a recording of a long meeting can pass 2 GiB.
 */
export class RecordingCompose1796500000000 implements MigrationInterface {
  name = 'RecordingCompose1796500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "recording_completions" ADD "compose_state" character varying(16)`);
    await queryRunner.query(`ALTER TABLE "media_artifacts" ALTER COLUMN "bytes" TYPE bigint`);
    await queryRunner.query(`
      CREATE TABLE "recording_compositions" (
        "session_id" uuid NOT NULL,
        "revision" integer NOT NULL DEFAULT 0,
        "state" character varying(16) NOT NULL DEFAULT 'queued',
        "error" jsonb,
        "artifact_id" uuid,
        "requested_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_recording_compositions" PRIMARY KEY ("session_id"),
        CONSTRAINT "FK_recording_compositions_session" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "recording_compositions"`);
    await queryRunner.query(`ALTER TABLE "media_artifacts" ALTER COLUMN "bytes" TYPE integer`);
    await queryRunner.query(`ALTER TABLE "recording_completions" DROP COLUMN "compose_state"`);
  }
}
