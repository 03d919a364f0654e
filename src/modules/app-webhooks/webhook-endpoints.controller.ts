import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../../common/auth/require-role.decorator';
import { uuidParam } from '../../common/http/uuid-param';
import { endpointView } from './app-webhook.views';
import { CreateWebhookEndpointDto, UpdateWebhookEndpointDto } from './dto/webhook-endpoint.dto';
import { PageQuery } from '../../common/http/page.query';
import { ListWebhookMessagesQuery, RecoverQuery } from './dto/webhook-queries.dto';
import { WebhookDeliveryLogService } from './webhook-delivery-log.service';
import { WebhookEndpointsService } from './webhook-endpoints.service';

@ApiTags('webhook-endpoints')
@ApiSecurity('api-key')
// Endpoints receive every owner's events.
@RequireRole('admin', { everyOwner: true })
@Controller('webhook-endpoints')
export class WebhookEndpointsController {
  constructor(
    private readonly endpoints: WebhookEndpointsService,
    private readonly log: WebhookDeliveryLogService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create an endpoint; the answer shows its signing secret (the only time but for a rotation)' })
  create(@Body() dto: CreateWebhookEndpointDto) {
    return this.endpoints.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List endpoints (newest first, cursor pagination)' })
  list(@Query() query: PageQuery) {
    return this.endpoints.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One endpoint (never its secret)' })
  async get(@Param('id', uuidParam) id: string) {
    return endpointView(await this.endpoints.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change url, events, description, metadata; enable or disable' })
  update(@Param('id', uuidParam) id: string, @Body() dto: UpdateWebhookEndpointDto) {
    return this.endpoints.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an endpoint with its delivery log' })
  async remove(@Param('id', uuidParam) id: string): Promise<void> {
    await this.endpoints.delete(id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'A new signing secret (shown once); the old one keeps signing for WEBHOOK_SECRET_ROTATION_OVERLAP_SEC' })
  rotateSecret(@Param('id', uuidParam) id: string) {
    return this.endpoints.rotateSecret(id);
  }

  @Post(':id/test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a ping event to this endpoint' })
  test(@Param('id', uuidParam) id: string) {
    return this.log.sendTest(id);
  }

  @Get(':id/events')
  @ApiOperation({ summary: 'What happened to the endpoint: disabled, enabled, secret rotated (newest first)' })
  events(@Param('id', uuidParam) id: string, @Query() query: PageQuery) {
    return this.endpoints.listEvents(id, query);
  }

  @Get(':id/messages')
  @ApiOperation({ summary: "The endpoint's delivery log (newest first; filter by status and event_type)" })
  messages(@Param('id', uuidParam) id: string, @Query() query: ListWebhookMessagesQuery) {
    return this.log.listMessages(id, query);
  }

  @Post(':id/recover')
  @HttpCode(202)
  @ApiOperation({ summary: 'Resend every failed message created since a time' })
  recover(@Param('id', uuidParam) id: string, @Query() query: RecoverQuery) {
    return this.log.recover(id, new Date(query.since));
  }
}
