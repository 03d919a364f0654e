import { MigrationInterface, QueryRunner } from "typeorm";

export class OAuthConnections1795557516463 implements MigrationInterface {
    name = 'OAuthConnections1795557516463'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "oauth_connections" ("id" uuid NOT NULL, "zoom_user_id" character varying(64) NOT NULL, "zoom_account_id" character varying(64) NOT NULL, "email" character varying(320), "display_name" character varying(256), "owner_key_fingerprint" character varying(64), "app_user_id" character varying(256), "access_token_enc" text NOT NULL, "refresh_token_enc" text NOT NULL, "key_id" character varying(32) NOT NULL, "scopes" text NOT NULL DEFAULT '', "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "token_version" integer NOT NULL DEFAULT '1', "status" character varying(32) NOT NULL DEFAULT 'active', "status_reason" text, "last_refreshed_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_dd75e97352734560c9e585c057d" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_oauth_connections_app_user_id" ON "oauth_connections" ("app_user_id") `);
        await queryRunner.query(`CREATE INDEX "IDX_oauth_connections_key_id" ON "oauth_connections" ("key_id") `);
        await queryRunner.query(`CREATE INDEX "IDX_oauth_connections_status" ON "oauth_connections" ("status") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_oauth_connections_zoom_user_account" ON "oauth_connections" ("zoom_user_id", "zoom_account_id") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."UQ_oauth_connections_zoom_user_account"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_oauth_connections_status"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_oauth_connections_key_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_oauth_connections_app_user_id"`);
        await queryRunner.query(`DROP TABLE "oauth_connections"`);
    }

}
