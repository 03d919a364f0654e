import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../../common/auth/require-role.decorator';
import { uuidParam } from '../../common/http/uuid-param';
import { WebhookDeliveryLogService } from './webhook-delivery-log.service';

@ApiTags('webhook-endpoints')
@ApiSecurity('api-key')
// Endpoints receive every owner's events.
@RequireRole('admin', { everyOwner: true })
@Controller('webhook-messages')
export class WebhookMessagesController {
  constructor(private readonly log: WebhookDeliveryLogService) {}

  @Get(':id')
  @ApiOperation({ summary: 'One message (its id is the webhook-id header) with the payload as sent' })
  get(@Param('id', uuidParam) id: string) {
    return this.log.getMessage(id);
  }

  @Get(':id/attempts')
  @ApiOperation({ summary: 'Every attempt of a message, in order' })
  attempts(@Param('id', uuidParam) id: string) {
    return this.log.listAttempts(id);
  }

  @Post(':id/resend')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send the message again now (same webhook-id and body, a new attempt)' })
  resend(@Param('id', uuidParam) id: string) {
    return this.log.resend(id);
  }
}
