import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audio PCM moves out of Postgres into the stream workers' local spool files
 * (AUDIO_SPOOL_DIR): a part row now records where its bytes are (spool_file,
 * file_offset) rather than holding them. Rows written before keep their `pcm`.
 * A segment belongs to the host that spools it (spool_host): if a stream moves to
 * another machine mid-segment, that machine writes its own segment for the window.
 */
export class AudioSpoolFiles1795600100000 implements MigrationInterface {
  name = 'AudioSpoolFiles1795600100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audio_parts" ALTER COLUMN "pcm" DROP NOT NULL`);
    await queryRunner.query(`ALTER TABLE "audio_parts" ADD "spool_file" character varying(255)`);
    await queryRunner.query(`ALTER TABLE "audio_parts" ADD "file_offset" bigint`);
    await queryRunner.query(`ALTER TABLE "audio_segments" ADD "spool_host" character varying(128) NOT NULL DEFAULT ''`);
    await queryRunner.query(`DROP INDEX "public"."UQ_audio_segments_natural"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_audio_segments_natural" ON "audio_segments" ("rtms_stream_id", "user_id", "segment_start_ms", "spool_host") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Segments spooled by a second host for the same window cannot stay under the old key.
    await queryRunner.query(
      `DELETE FROM "audio_segments" a USING "audio_segments" b
        WHERE a.rtms_stream_id = b.rtms_stream_id AND a.user_id = b.user_id AND a.segment_start_ms = b.segment_start_ms AND a.created_at > b.created_at`,
    );
    await queryRunner.query(`DROP INDEX "public"."UQ_audio_segments_natural"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_audio_segments_natural" ON "audio_segments" ("rtms_stream_id", "user_id", "segment_start_ms") `);
    await queryRunner.query(`ALTER TABLE "audio_segments" DROP COLUMN "spool_host"`);
    // Parts whose bytes are in spool files have no place in the old schema.
    await queryRunner.query(`DELETE FROM "audio_parts" WHERE "pcm" IS NULL`);
    await queryRunner.query(`ALTER TABLE "audio_parts" DROP COLUMN "file_offset"`);
    await queryRunner.query(`ALTER TABLE "audio_parts" DROP COLUMN "spool_file"`);
    await queryRunner.query(`ALTER TABLE "audio_parts" ALTER COLUMN "pcm" SET NOT NULL`);
  }
}
