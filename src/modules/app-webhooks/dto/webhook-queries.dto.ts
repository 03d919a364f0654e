import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsOptional, IsString, MaxLength } from 'class-validator';
import { APP_EVENT_TYPES } from '../../app-events';
import { IsInstant } from '../../../common/http/instant';
import { PageQuery } from '../../../common/http/page.query';
import { WebhookMessageStatus } from '../entities/webhook-message.entity';

export class ListWebhookMessagesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: WebhookMessageStatus })
  @IsOptional() @IsEnum(WebhookMessageStatus)
  status?: WebhookMessageStatus;

  @ApiPropertyOptional({ description: 'Only messages of this event type (another: 400 unknown_event_type)', enum: APP_EVENT_TYPES, example: 'session.status_changed' })
  @IsOptional() @IsString() @MaxLength(64)
  event_type?: string;
}

export class RecoverQuery {
  @ApiProperty({ description: 'Resend the failed messages created at or after this time (ISO 8601)', example: '2026-12-01T00:00:00Z' })
  @IsInstant()
  since: string;
}
