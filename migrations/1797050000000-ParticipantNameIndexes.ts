import { MigrationInterface, QueryRunner } from 'typeorm';

/** The tables an erasure by name looks a display name up in (docs/retention.md "Erasure"). */
const TABLES = ['media_artifacts', 'transcript_segments', 'audio_segments', 'participants'];

/**
 * Erasure by name compares `normalize(user_name, NFC)` with the name in
 * media_artifacts, transcript_segments, audio_segments and participants
 * (ParticipantMediaRepository.sessionsOfUserName, ParticipantLookupRepository.byUserName):
 * without an index on that expression each pass reads every row of all four. Partial (rows
 * with a name only), as the queries ask.
 *
 * Built CONCURRENTLY, so ingest (inserts into the first three) goes on while they build:
 * outside a transaction (`transaction = false`, which `npm run migrate` honours). An
 * interrupted build leaves an invalid index of that name: it is dropped and built again.
 * Not in the entities: TypeORM cannot declare an expression index, and does not see one.
 */
export class ParticipantNameIndexes1797050000000 implements MigrationInterface {
  name = 'ParticipantNameIndexes1797050000000';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of TABLES) {
      await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS "public"."IDX_${table}_user_name_nfc"`);
      await queryRunner.query(`CREATE INDEX CONCURRENTLY "IDX_${table}_user_name_nfc" ON "${table}" (normalize("user_name", NFC)) WHERE "user_name" IS NOT NULL`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of TABLES) await queryRunner.query(`DROP INDEX IF EXISTS "public"."IDX_${table}_user_name_nfc"`);
  }
}
