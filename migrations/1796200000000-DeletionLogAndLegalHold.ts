import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The data lifecycle's foundation (docs/retention.md):
 * - `deletion_log`: one row per deletion (retention, session delete, revoked stream,
 *   erasure) — what, why, when, by whom, counts and bytes. Append-only: a trigger
 *   refuses UPDATE and DELETE, so neither the hub nor a bug in it can rewrite the trail
 *   (an operator with table rights can still TRUNCATE, deliberately). It has no foreign
 *   keys: it must outlive the sessions it describes.
 * - `sessions.legal_hold_*`: a held session is never purged or erased.
 */
export class DeletionLogAndLegalHold1796200000000 implements MigrationInterface {
  name = 'DeletionLogAndLegalHold1796200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "deletion_log" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "reason" character varying(32) NOT NULL,
        "session_id" uuid,
        "rtms_stream_id" character varying(128),
        "erasure_id" uuid,
        "categories" text array NOT NULL DEFAULT '{}',
        "objects_deleted" integer NOT NULL DEFAULT 0,
        "bytes_deleted" bigint NOT NULL DEFAULT 0,
        "rows_deleted" jsonb NOT NULL DEFAULT '{}',
        "actor" character varying(16) NOT NULL,
        "api_key_fingerprint" character varying(64),
        "owner" character varying(64),
        "details" jsonb NOT NULL DEFAULT '{}',
        CONSTRAINT "PK_deletion_log" PRIMARY KEY ("id"),
        CONSTRAINT "CHK_deletion_log_reason" CHECK ("reason" IN ('retention', 'session_deleted', 'stream_revoked', 'erasure')),
        CONSTRAINT "CHK_deletion_log_actor" CHECK ("actor" IN ('system', 'api_key', 'zoom'))
      )`);
    await queryRunner.query(`CREATE INDEX "IDX_deletion_log_created_at_id" ON "deletion_log" ("created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "IDX_deletion_log_session_created_at_id" ON "deletion_log" ("session_id", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "IDX_deletion_log_owner_created_at_id" ON "deletion_log" ("owner", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "IDX_deletion_log_reason_created_at_id" ON "deletion_log" ("reason", "created_at", "id")`);
    await queryRunner.query(`
      CREATE FUNCTION deletion_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'deletion_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER "TRG_deletion_log_append_only" BEFORE UPDATE OR DELETE ON "deletion_log"
      FOR EACH ROW EXECUTE FUNCTION deletion_log_append_only()`);

    await queryRunner.query(`ALTER TABLE "sessions" ADD "legal_hold_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "sessions" ADD "legal_hold_reason" character varying(512)`);
    await queryRunner.query(`ALTER TABLE "sessions" ADD "legal_hold_by" character varying(64)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "legal_hold_by"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "legal_hold_reason"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "legal_hold_at"`);
    await queryRunner.query(`DROP TRIGGER "TRG_deletion_log_append_only" ON "deletion_log"`);
    await queryRunner.query(`DROP FUNCTION deletion_log_append_only()`);
    await queryRunner.query(`DROP TABLE "deletion_log"`);
  }
}
