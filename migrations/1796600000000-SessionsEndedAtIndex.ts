import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sessions.ended_at` indexed: the recording-check sweeper (media-ingest) looks every minute
 * for the sessions that ended in the last day without a recording.ready.
 */
export class SessionsEndedAtIndex1796600000000 implements MigrationInterface {
  name = 'SessionsEndedAtIndex1796600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "IDX_sessions_ended_at" ON "sessions" ("ended_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_sessions_ended_at"`);
  }
}
