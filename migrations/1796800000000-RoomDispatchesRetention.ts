import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the retention sweep needs to prune finished Zoom Room dispatches by age, in index
 * order and bounded batches (docs/retention.md "Zoom Room dispatches"): the
 * `room_dispatches` it may prune — `left`, `failed` or `cancelled`, and not an automatic
 * dispatch whose session is still there — by their last update. Partial: dispatches in
 * progress, and the automatic ones of live sessions, are never read by the prune.
 */
export class RoomDispatchesRetention1796800000000 implements MigrationInterface {
  name = 'RoomDispatchesRetention1796800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "IDX_room_dispatches_prunable" ON "room_dispatches" ("updated_at", "id") WHERE status IN ('left', 'failed', 'cancelled') AND (source <> 'auto' OR session_id IS NULL)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_room_dispatches_prunable"`);
  }
}
