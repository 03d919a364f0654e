import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsBoolean, IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { OptionalNotNull } from '../../../common/http/optional-not-null';

const EVENTS_DESCRIPTION =
  'Event types to receive (see docs/webhooks.md), or "*" for every type except the opt-in transcript.segment. An unknown type is refused (400 unknown_event_type).';

export class CreateWebhookEndpointDto {
  @ApiProperty({ description: 'https:// URL whose host resolves to public addresses', example: 'https://app.example.com/hooks/rtms' })
  @IsString() @MaxLength(2048)
  url: string;

  @ApiProperty({ description: EVENTS_DESCRIPTION, type: [String], example: ['session.status_changed', 'recording.ready'] })
  @IsArray() @ArrayNotEmpty() @ArrayMaxSize(50) @ArrayUnique() @IsString({ each: true }) @MaxLength(64, { each: true })
  events: string[];

  @ApiPropertyOptional({ maxLength: 512 })
  @IsOptional() @IsString() @MaxLength(512)
  description?: string;

  @ApiPropertyOptional({ default: true })
  @IsOptional() @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ description: 'Free-form app data (max 16 KB as JSON)' })
  @IsOptional() @IsObject()
  metadata?: Record<string, unknown>;
}

/** Every field optional; `enabled: true` re-enables a disabled endpoint (clears its disabled and failing state). */
export class UpdateWebhookEndpointDto {
  @ApiPropertyOptional({ description: 'https:// URL whose host resolves to public addresses' })
  @OptionalNotNull() @IsString() @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({ description: EVENTS_DESCRIPTION, type: [String] })
  @OptionalNotNull() @IsArray() @ArrayNotEmpty() @ArrayMaxSize(50) @ArrayUnique() @IsString({ each: true }) @MaxLength(64, { each: true })
  events?: string[];

  @ApiPropertyOptional({ maxLength: 512, nullable: true, description: 'null clears it' })
  @IsOptional() @IsString() @MaxLength(512)
  description?: string | null;

  @ApiPropertyOptional()
  @OptionalNotNull() @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ description: 'Replaces the metadata (max 16 KB as JSON)' })
  @OptionalNotNull() @IsObject()
  metadata?: Record<string, unknown>;
}
