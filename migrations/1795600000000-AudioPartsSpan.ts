import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audio parts are now written by the stream workers' audio spool, one part per segment
 * per flush. A part is unique per (segment, first packet, last packet): a flush written
 * twice adds nothing, and a later part that happens to start with a packet Zoom sent
 * again is not mistaken for it. PCM does not compress: STORAGE EXTERNAL stops Postgres
 * from trying.
 */
export class AudioPartsSpan1795600000000 implements MigrationInterface {
  name = 'AudioPartsSpan1795600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audio_parts" ADD "last_ts" bigint`);
    await queryRunner.query(`UPDATE "audio_parts" SET "last_ts" = "packet_ts"[cardinality("packet_ts")]`);
    await queryRunner.query(`ALTER TABLE "audio_parts" ALTER COLUMN "last_ts" SET NOT NULL`);
    await queryRunner.query(`DROP INDEX "public"."UQ_audio_parts_segment_first_ts"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_audio_parts_segment_span" ON "audio_parts" ("segment_id", "first_ts", "last_ts") `);
    await queryRunner.query(`ALTER TABLE "audio_parts" ALTER COLUMN "pcm" SET STORAGE EXTERNAL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audio_parts" ALTER COLUMN "pcm" SET STORAGE EXTENDED`);
    await queryRunner.query(`DROP INDEX "public"."UQ_audio_parts_segment_span"`);
    // Parts that now share a first packet cannot all stay under the old key; keep the longest.
    await queryRunner.query(
      `DELETE FROM "audio_parts" a USING "audio_parts" b
        WHERE a.segment_id = b.segment_id AND a.first_ts = b.first_ts AND (a.last_ts < b.last_ts OR (a.last_ts = b.last_ts AND a.id < b.id))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_audio_parts_segment_first_ts" ON "audio_parts" ("segment_id", "first_ts") `);
    await queryRunner.query(`ALTER TABLE "audio_parts" DROP COLUMN "last_ts"`);
  }
}
