import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsEnum, IsInt, IsISO8601, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { WebhookMessageStatus } from '../entities/webhook-message.entity';

export class WebhookPageQuery {
  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page' })
  @IsOptional() @IsString() @MaxLength(512)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  limit?: number;
}

export class ListWebhookMessagesQuery extends WebhookPageQuery {
  @ApiPropertyOptional({ enum: WebhookMessageStatus })
  @IsOptional() @IsEnum(WebhookMessageStatus)
  status?: WebhookMessageStatus;

  @ApiPropertyOptional({ description: 'Only messages of this event type', example: 'session.status_changed' })
  @IsOptional() @IsString() @MaxLength(64)
  event_type?: string;
}

export class RecoverQuery {
  @ApiProperty({ description: 'Resend the failed messages created at or after this time (ISO 8601)', example: '2026-12-01T00:00:00Z' })
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 time' })
  since: string;
}
