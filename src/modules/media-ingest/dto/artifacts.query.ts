import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { DecimalInt } from '../../../common/http/decimal-int';
import { IsInstant } from '../../../common/http/instant';

export const ARTIFACT_KINDS = ['video_frame', 'share_frame', 'video_segment', 'share_segment', 'audio_segment', 'chat', 'recording', 'participant_audio'] as const;

export class ListArtifactsQuery {
  @ApiPropertyOptional({ enum: ARTIFACT_KINDS })
  @IsOptional() @IsIn(ARTIFACT_KINDS)
  kind?: (typeof ARTIFACT_KINDS)[number];

  @ApiPropertyOptional({ description: 'Zoom user id' })
  @IsOptional() @IsString() @MaxLength(64) @Matches(/^[0-9A-Za-z_-]+$/, { message: 'user_id must be a Zoom user id' })
  user_id?: string;

  @ApiPropertyOptional({ description: 'captured_at ≥ this ISO time' })
  @IsOptional() @IsInstant()
  from?: string;

  @ApiPropertyOptional({ description: 'captured_at < this ISO time' })
  @IsOptional() @IsInstant()
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional() @DecimalInt() @IsInt() @Min(1) @Max(500)
  limit?: number;

  @ApiPropertyOptional()
  @IsOptional() @IsString() @MaxLength(512)
  cursor?: string;
}

export class TranscriptQuery {
  @ApiPropertyOptional({ enum: ['json', 'vtt', 'txt'], default: 'json' })
  @IsOptional() @IsIn(['json', 'vtt', 'txt'])
  format?: 'json' | 'vtt' | 'txt';
}
