import { MigrationInterface, QueryRunner } from "typeorm";

export class MediaArtifacts1795558494710 implements MigrationInterface {
    name = 'MediaArtifacts1795558494710'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "audio_segments" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "session_id" uuid NOT NULL, "rtms_stream_id" character varying(128) NOT NULL, "user_id" character varying(64) NOT NULL, "user_name" character varying(512), "segment_start_ms" bigint NOT NULL, "segment_ms" integer NOT NULL, "sample_rate" integer NOT NULL, "channels" integer NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'open', "last_part_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "artifact_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_f660434afccd9a0fe158b99eb8c" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_audio_segments_open" ON "audio_segments" ("status", "last_part_at") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_audio_segments_natural" ON "audio_segments" ("rtms_stream_id", "user_id", "segment_start_ms") `);
        await queryRunner.query(`CREATE TABLE "audio_parts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "segment_id" uuid NOT NULL, "first_ts" bigint NOT NULL, "packet_ts" bigint array NOT NULL, "packet_len" integer array NOT NULL, "pcm" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_413d7037b919d681c440b3f0b9a" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_audio_parts_segment_first_ts" ON "audio_parts" ("segment_id", "first_ts") `);
        await queryRunner.query(`CREATE TABLE "media_artifacts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "session_id" uuid NOT NULL, "rtms_stream_id" character varying(128) NOT NULL, "kind" character varying(32) NOT NULL, "user_id" character varying(64) NOT NULL, "user_name" character varying(512), "storage_key" character varying(1024) NOT NULL, "content_type" character varying(64) NOT NULL, "bytes" integer NOT NULL, "sha256" character varying(64) NOT NULL, "captured_at" TIMESTAMP WITH TIME ZONE NOT NULL, "duration_ms" integer, "meta" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3122c7e2f90389fdc1b6595a8c3" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_media_artifacts_stream" ON "media_artifacts" ("rtms_stream_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_media_artifacts_storage_key" ON "media_artifacts" ("storage_key") `);
        await queryRunner.query(`CREATE INDEX "IDX_media_artifacts_session_captured" ON "media_artifacts" ("session_id", "captured_at", "id") `);
        await queryRunner.query(`CREATE TABLE "transcript_segments" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "session_id" uuid NOT NULL, "rtms_stream_id" character varying(128) NOT NULL, "user_id" character varying(64) NOT NULL, "user_name" character varying(512), "text" text NOT NULL, "start_ms" bigint NOT NULL, "end_ms" bigint NOT NULL, "timestamp_ms" bigint NOT NULL, "language" integer, "attribute" integer, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_34cfd4b54a9857af7dfa443f3ed" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_transcript_segments_session_start" ON "transcript_segments" ("session_id", "start_ms") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_transcript_segments_natural" ON "transcript_segments" ("rtms_stream_id", "user_id", "timestamp_ms", "start_ms") `);
        await queryRunner.query(`ALTER TABLE "audio_segments" ADD CONSTRAINT "FK_11efb6b80799b0211988fcc00d1" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "audio_parts" ADD CONSTRAINT "FK_38fcc7fe8935e57c06feea07ad9" FOREIGN KEY ("segment_id") REFERENCES "audio_segments"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "media_artifacts" ADD CONSTRAINT "FK_55f8457ae404fee8592bdccd6bb" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "transcript_segments" ADD CONSTRAINT "FK_42842985e4c5013200f8e0f46f0" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "transcript_segments" DROP CONSTRAINT "FK_42842985e4c5013200f8e0f46f0"`);
        await queryRunner.query(`ALTER TABLE "media_artifacts" DROP CONSTRAINT "FK_55f8457ae404fee8592bdccd6bb"`);
        await queryRunner.query(`ALTER TABLE "audio_parts" DROP CONSTRAINT "FK_38fcc7fe8935e57c06feea07ad9"`);
        await queryRunner.query(`ALTER TABLE "audio_segments" DROP CONSTRAINT "FK_11efb6b80799b0211988fcc00d1"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_transcript_segments_natural"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_transcript_segments_session_start"`);
        await queryRunner.query(`DROP TABLE "transcript_segments"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_media_artifacts_session_captured"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_media_artifacts_storage_key"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_media_artifacts_stream"`);
        await queryRunner.query(`DROP TABLE "media_artifacts"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_audio_parts_segment_first_ts"`);
        await queryRunner.query(`DROP TABLE "audio_parts"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_audio_segments_natural"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_audio_segments_open"`);
        await queryRunner.query(`DROP TABLE "audio_segments"`);
    }

}
