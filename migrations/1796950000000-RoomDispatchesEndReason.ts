import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `room_dispatches.end_reason`: why a dispatch ended without the hub's own leave —
 * `meeting_ended` when its session's meeting ended and took the room out
 * (docs/zoom-rooms.md "When the meeting ends"). Null for every existing row.
 */
export class RoomDispatchesEndReason1796950000000 implements MigrationInterface {
  name = 'RoomDispatchesEndReason1796950000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "room_dispatches" ADD "end_reason" character varying(32)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "room_dispatches" DROP COLUMN "end_reason"`);
  }
}
