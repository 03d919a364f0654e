import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Owner tags (API_KEYS `name:role:secret:owner`): the owner of the key that created a
 * session, an OAuth connection or a room dispatch. Owner-scoped keys see only their
 * owner's rows; existing rows have none, so only unscoped keys see them.
 */
export class OwnerTags1796100000000 implements MigrationInterface {
  name = 'OwnerTags1796100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "sessions" ADD "owner" character varying(64)`);
    await queryRunner.query(`CREATE INDEX "IDX_sessions_owner_created_at_id" ON "sessions" ("owner", "created_at", "id") `);
    await queryRunner.query(`ALTER TABLE "oauth_connections" ADD "owner" character varying(64)`);
    await queryRunner.query(`CREATE INDEX "IDX_oauth_connections_owner" ON "oauth_connections" ("owner") `);
    await queryRunner.query(`ALTER TABLE "room_dispatches" ADD "owner" character varying(64)`);
    await queryRunner.query(`CREATE INDEX "IDX_room_dispatches_owner" ON "room_dispatches" ("owner") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_room_dispatches_owner"`);
    await queryRunner.query(`ALTER TABLE "room_dispatches" DROP COLUMN "owner"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_oauth_connections_owner"`);
    await queryRunner.query(`ALTER TABLE "oauth_connections" DROP COLUMN "owner"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_sessions_owner_created_at_id"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "owner"`);
  }
}
