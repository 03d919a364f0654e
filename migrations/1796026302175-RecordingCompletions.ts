import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * recording.ready is announced once per session: the announcing transaction inserts the
 * session's recording_completions row (primary key), so two racing checks cannot both
 * announce it. Cascades with the session.
 */
export class RecordingCompletions1796026302175 implements MigrationInterface {
  name = 'RecordingCompletions1796026302175';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "recording_completions" ("session_id" uuid NOT NULL, "counts" jsonb NOT NULL, "forced" boolean NOT NULL DEFAULT false, "pending" jsonb, "event_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_850f05b6e6434ea27ed893d5a7a" PRIMARY KEY ("session_id"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "recording_completions" ADD CONSTRAINT "FK_850f05b6e6434ea27ed893d5a7a" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "recording_completions" DROP CONSTRAINT "FK_850f05b6e6434ea27ed893d5a7a"`);
    await queryRunner.query(`DROP TABLE "recording_completions"`);
  }
}
