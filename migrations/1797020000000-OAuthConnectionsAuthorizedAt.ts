import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `oauth_connections.authorized_at`: when the user last consented. A late (retried)
 * app_deauthorized deletes only connections authorized at or before Zoom's
 * deauthorization_time, so a consent given after the removal survives it (docs/api.md).
 * Existing rows get their creation time: a re-consent of one of them before this
 * migration is not known, and deleting on doubt is what Zoom asks for.
 */
export class OAuthConnectionsAuthorizedAt1797020000000 implements MigrationInterface {
  name = 'OAuthConnectionsAuthorizedAt1797020000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oauth_connections" ADD "authorized_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`);
    await queryRunner.query(`UPDATE "oauth_connections" SET "authorized_at" = "created_at"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oauth_connections" DROP COLUMN "authorized_at"`);
  }
}
