import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { ZOOM_ROOM_ID_MESSAGE, ZOOM_ROOM_ID_PATTERN } from '../../zoom-rooms/contract';

export const MEDIA_TYPES = ['audio', 'video', 'deskshare', 'transcript', 'chat'] as const;
export type MediaTypeName = (typeof MEDIA_TYPES)[number];

const STORE_DESCRIPTION =
  'false: receive this media type and publish it to live clients (docs/live.md), but store nothing of it (no files, no rows). Live clients get every frame: the sampling fields apply to storage only.';

const SAMPLING_NOTE = ' (JPEG/PNG only: with format h264 every frame is kept, in segments)';

export class FrameSamplingDto {
  @ApiPropertyOptional({ enum: ['jpeg', 'png', 'h264'], default: 'jpeg', description: 'jpeg/png: one picture per frame (≤ 5 fps); h264: H.264 video stored as segments (video fps 6–30, deskshare 2–30)' })
  @IsOptional() @IsIn(['jpeg', 'png', 'h264'])
  format?: 'jpeg' | 'png' | 'h264';

  @ApiPropertyOptional({ description: 'Frames per second asked of Zoom: 1–5 for jpeg/png (default: from interval_ms), 6–30 for h264 video (default 25), 2–30 for h264 deskshare (default 10)', minimum: 1, maximum: 30 })
  @IsOptional() @IsInt() @Min(1) @Max(30)
  fps?: number;

  @ApiPropertyOptional({ enum: ['sd', 'hd', 'fhd', 'qhd'], default: 'hd', description: 'sd 480p/360p, hd 720p, fhd 1080p, qhd 1440p' })
  @IsOptional() @IsIn(['sd', 'hd', 'fhd', 'qhd'])
  resolution?: 'sd' | 'hd' | 'fhd' | 'qhd';

  @ApiPropertyOptional({ description: `Frames to skip per participant before saving any${SAMPLING_NOTE}`, minimum: 0 })
  @IsOptional() @IsInt() @Min(0) @Max(100000)
  skip_first_frames?: number;

  @ApiPropertyOptional({ description: `Save at most one frame per participant per interval (ms); 0 = every frame${SAMPLING_NOTE}`, minimum: 0 })
  @IsOptional() @IsInt() @Min(0) @Max(3600000)
  interval_ms?: number;

  @ApiPropertyOptional({ description: `Stop saving after this many frames per participant; 0 = no limit${SAMPLING_NOTE}`, minimum: 0 })
  @IsOptional() @IsInt() @Min(0) @Max(1000000)
  max_frames_per_user?: number;

  @ApiPropertyOptional({ description: STORE_DESCRIPTION, default: true })
  @IsOptional() @IsBoolean()
  store?: boolean;
}

export class AudioPolicyDto {
  @ApiPropertyOptional({ enum: ['mixed', 'per_participant'] })
  @IsOptional() @IsIn(['mixed', 'per_participant'])
  mode?: 'mixed' | 'per_participant';

  @ApiPropertyOptional({ description: 'WAV segment length in seconds', minimum: 1, maximum: 3600 })
  @IsOptional() @IsInt() @Min(1) @Max(3600)
  segment_seconds?: number;

  @ApiPropertyOptional({ description: STORE_DESCRIPTION, default: true })
  @IsOptional() @IsBoolean()
  store?: boolean;
}

export class TranscriptPolicyDto {
  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ description: 'Zoom src_language code (-1 none/auto, 9 English, …)', minimum: -1, maximum: 47 })
  @IsOptional() @IsInt() @Min(-1) @Max(47)
  src_language?: number;

  @ApiPropertyOptional({ description: STORE_DESCRIPTION, default: true })
  @IsOptional() @IsBoolean()
  store?: boolean;
}

export class ChatPolicyDto {
  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ description: STORE_DESCRIPTION, default: true })
  @IsOptional() @IsBoolean()
  store?: boolean;
}

/**
 * Zoom Rooms to send into the meeting once the stream's media handshake succeeds:
 * either `room_ids` or `all_available: true`. The passcode is sealed before it is stored.
 */
export class ZoomRoomsPolicyDto {
  @ApiPropertyOptional({ description: 'Zoom room ids to dispatch (or set all_available)', type: [String] })
  @ValidateIf((o: ZoomRoomsPolicyDto) => o.all_available !== true || o.room_ids !== undefined)
  @IsArray({ message: 'zoom_rooms needs room_ids (a non-empty array) or all_available: true' })
  @ArrayNotEmpty() @ArrayMaxSize(300) @ArrayUnique()
  @IsString({ each: true }) @Matches(ZOOM_ROOM_ID_PATTERN, { each: true, message: ZOOM_ROOM_ID_MESSAGE })
  room_ids?: string[];

  @ApiPropertyOptional({ description: 'Dispatch every room whose status is Available at dispatch time' })
  @IsOptional() @IsBoolean()
  @ValidateBy({
    name: 'notWithRoomIds',
    validator: {
      validate: (value: unknown, args) => !(value === true && (args?.object as ZoomRoomsPolicyDto).room_ids !== undefined),
      defaultMessage: () => 'give either room_ids or all_available, not both',
    },
  })
  all_available?: boolean;

  @ApiPropertyOptional({ description: 'Meeting number the rooms join (default: the session meeting_id)', example: '86429575325' })
  @IsOptional() @IsString() @Matches(/^\d{6,20}$/, { message: 'meeting_number must be the numeric Zoom meeting number' })
  meeting_number?: string;

  @ApiPropertyOptional({ description: 'Meeting passcode (stored encrypted, never returned)' })
  @IsOptional() @IsString() @MaxLength(64)
  passcode?: string;

  @ApiPropertyOptional({ description: 'Each room leaves after this many seconds; 0 = stays (default ZOOM_ROOMS_DEFAULT_LEAVE_AFTER_SEC)', minimum: 0, maximum: 86400 })
  @IsOptional() @IsInt() @Min(0) @Max(86400)
  leave_after_seconds?: number;
}

/** The composed recording of the session (docs/recordings.md). */
export class RecordingPolicyDto {
  @ApiPropertyOptional({ description: 'Build recording.mp4 when capture completes. Omitted: COMPOSE_RECORDINGS (default true) when the session captured video or audio.' })
  @IsOptional() @IsBoolean()
  compose?: boolean;

  @ApiPropertyOptional({ enum: ['none', 'opus'], default: 'none', description: "Also one Opus (Ogg) file per participant's own audio (kind participant_audio)" })
  @IsOptional() @IsIn(['none', 'opus'])
  participant_audio?: 'none' | 'opus';
}

const DAYS_DESCRIPTION = (what: string, env: string) =>
  `Keep ${what} this many days after the session ends (from its creation if it never streamed); fractions allowed; 0 = keep forever. Omitted: ${env} at the time of each sweep.`;

/**
 * How long a session's captured data is kept (docs/retention.md). Unset fields follow the
 * RETENTION_* configuration as it is when the sweep runs, so tightening it applies to old
 * sessions too. `zero: true` stores nothing at all (live delivery is the only output).
 */
export class RetentionPolicyDto {
  @ApiPropertyOptional({ description: DAYS_DESCRIPTION('stored frames and audio', 'RETENTION_MEDIA_DAYS'), minimum: 0 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(36500)
  media_days?: number;

  @ApiPropertyOptional({ description: DAYS_DESCRIPTION('transcript segments and chat', 'RETENTION_TRANSCRIPT_DAYS'), minimum: 0 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(36500)
  transcript_days?: number;

  @ApiPropertyOptional({ description: DAYS_DESCRIPTION('session events and participants', 'RETENTION_EVENTS_DAYS'), minimum: 0 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(36500)
  events_days?: number;

  @ApiPropertyOptional({ description: 'Zero retention: store no media, transcript, chat or participant data (store: false on every media type); only the session, its status timeline and counters are kept.', default: false })
  @IsOptional() @IsBoolean()
  zero?: boolean;
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
  @IsOptional() @IsObject() @ValidateNested() @Type(() => FrameSamplingDto)
  video?: FrameSamplingDto;

  @ApiPropertyOptional({ type: FrameSamplingDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => FrameSamplingDto)
  deskshare?: FrameSamplingDto;

  @ApiPropertyOptional({ type: AudioPolicyDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => AudioPolicyDto)
  audio?: AudioPolicyDto;

  @ApiPropertyOptional({ type: TranscriptPolicyDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => TranscriptPolicyDto)
  transcript?: TranscriptPolicyDto;

  @ApiPropertyOptional({ type: ChatPolicyDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => ChatPolicyDto)
  chat?: ChatPolicyDto;

  @ApiPropertyOptional({ type: RetentionPolicyDto, description: 'How long what is stored is kept, or zero retention' })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => RetentionPolicyDto)
  retention?: RetentionPolicyDto;

  @ApiPropertyOptional({ type: ZoomRoomsPolicyDto, description: 'Zoom Rooms to dispatch into the meeting after the media handshake' })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => ZoomRoomsPolicyDto)
  zoom_rooms?: ZoomRoomsPolicyDto;

  @ApiPropertyOptional({ type: () => RecordingPolicyDto, description: 'The composed recording (recording.mp4) built when capture completes (docs/recordings.md)' })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => RecordingPolicyDto)
  recording?: RecordingPolicyDto;
}
