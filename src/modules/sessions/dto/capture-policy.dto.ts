import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

export const MEDIA_TYPES = ['audio', 'video', 'deskshare', 'transcript', 'chat'] as const;
export type MediaTypeName = (typeof MEDIA_TYPES)[number];

export class FrameSamplingDto {
  @ApiPropertyOptional({ description: 'Frames to skip per participant before saving any', minimum: 0 })
  @IsOptional() @IsInt() @Min(0) @Max(100000)
  skip_first_frames?: number;

  @ApiPropertyOptional({ description: 'Save at most one frame per participant per interval (ms); 0 = every frame', minimum: 0 })
  @IsOptional() @IsInt() @Min(0) @Max(3600000)
  interval_ms?: number;

  @ApiPropertyOptional({ description: 'Stop saving after this many frames per participant; 0 = no limit', minimum: 0 })
  @IsOptional() @IsInt() @Min(0) @Max(1000000)
  max_frames_per_user?: number;
}

export class AudioPolicyDto {
  @ApiPropertyOptional({ enum: ['mixed', 'per_participant'] })
  @IsOptional() @IsIn(['mixed', 'per_participant'])
  mode?: 'mixed' | 'per_participant';

  @ApiPropertyOptional({ description: 'WAV segment length in seconds', minimum: 1, maximum: 3600 })
  @IsOptional() @IsInt() @Min(1) @Max(3600)
  segment_seconds?: number;
}

export class TranscriptPolicyDto {
  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ description: 'Zoom src_language code (-1 none/auto, 9 English, …)', minimum: -1, maximum: 47 })
  @IsOptional() @IsInt() @Min(-1) @Max(47)
  src_language?: number;
}

export class ChatPolicyDto {
  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  enabled?: boolean;
}

/** What to capture from a session's streams. Omitted fields take the configured defaults. */
export class CapturePolicyDto {
  @ApiPropertyOptional({ enum: MEDIA_TYPES, isArray: true })
  @IsOptional() @IsArray() @ArrayUnique() @IsIn(MEDIA_TYPES, { each: true })
  media_types?: MediaTypeName[];

  @ApiPropertyOptional({ description: 'Capture only these Zoom user ids', type: [String] })
  @IsOptional() @IsArray() @ArrayMaxSize(1000) @IsString({ each: true }) @MaxLength(64, { each: true })
  include_user_ids?: string[];

  @ApiPropertyOptional({ description: 'Never capture these Zoom user ids', type: [String] })
  @IsOptional() @IsArray() @ArrayMaxSize(1000) @IsString({ each: true }) @MaxLength(64, { each: true })
  exclude_user_ids?: string[];

  @ApiPropertyOptional({ type: FrameSamplingDto })
  @IsOptional() @ValidateNested() @Type(() => FrameSamplingDto)
  video?: FrameSamplingDto;

  @ApiPropertyOptional({ type: FrameSamplingDto })
  @IsOptional() @ValidateNested() @Type(() => FrameSamplingDto)
  deskshare?: FrameSamplingDto;

  @ApiPropertyOptional({ type: AudioPolicyDto })
  @IsOptional() @ValidateNested() @Type(() => AudioPolicyDto)
  audio?: AudioPolicyDto;

  @ApiPropertyOptional({ type: TranscriptPolicyDto })
  @IsOptional() @ValidateNested() @Type(() => TranscriptPolicyDto)
  transcript?: TranscriptPolicyDto;

  @ApiPropertyOptional({ type: ChatPolicyDto })
  @IsOptional() @ValidateNested() @Type(() => ChatPolicyDto)
  chat?: ChatPolicyDto;
}
