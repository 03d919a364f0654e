import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sessions.received_counts`: what the session's streams received (messages and bytes per
 * media type, signaling events, participants seen), added by the stream workers. With
 * zero retention it is what shows a meeting was streamed at all (docs/retention.md).
 */
export class SessionReceivedCounts1796300000000 implements MigrationInterface {
  name = 'SessionReceivedCounts1796300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "sessions" ADD "received_counts" jsonb NOT NULL DEFAULT '{}'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "received_counts"`);
  }
}
