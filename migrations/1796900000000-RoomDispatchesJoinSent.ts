import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `room_dispatches.join_sent_at`: a join of the dispatch went to Zoom and Zoom may have
 * accepted it (docs/zoom-rooms.md "A dispatch's life"). Written before the Zoom call, so a
 * dispatch cancelled after a worker died between Zoom's 202 and `joined_at` still sends its
 * room a leave. Dispatches `joining` when this runs may have a join in flight from the
 * release before: they count as sent (at worst a cancel sends one needless leave).
 */
export class RoomDispatchesJoinSent1796900000000 implements MigrationInterface {
  name = 'RoomDispatchesJoinSent1796900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "room_dispatches" ADD "join_sent_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`UPDATE "room_dispatches" SET "join_sent_at" = "updated_at" WHERE "status" = 'joining'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "room_dispatches" DROP COLUMN "join_sent_at"`);
  }
}
