import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { decodeCursor } from '../../common/http/pagination';
import { AppConfig, AppWebhooksConfig } from '../../config/app.config';
import { endpointEventView, endpointView } from './app-webhook.views';
import { WebhookEndpointNotFoundError } from './app-webhooks.errors';
import { EndpointSecrets } from './delivery/endpoint-secrets';
import { newSigningSecret } from './delivery/webhook-signature';
import { CreateWebhookEndpointDto, UpdateWebhookEndpointDto } from './dto/webhook-endpoint.dto';
import { PageQuery } from '../../common/http/page.query';
import { WebhookEndpointEntity } from './entities/webhook-endpoint.entity';
import { assertDeliverableUrl, assertKnownEventTypes, assertMetadataSize } from './endpoint-input';
import { keysetToPage } from '../../common/http/keyset-page';
import { WebhookEndpointsRepository } from './repositories/webhook-endpoints.repository';
import { WebhookMessagesRepository } from './repositories/webhook-messages.repository';

export type EndpointView = ReturnType<typeof endpointView>;

/**
 * Webhook endpoints: create (the signing secret is shown in that answer only), read,
 * update, enable/disable, delete, rotate the secret. Secrets are sealed before they are
 * stored and never logged.
 */
@Injectable()
export class WebhookEndpointsService {
  private readonly logger = new Logger(WebhookEndpointsService.name);
  private readonly config: AppWebhooksConfig;

  constructor(
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly messages: WebhookMessagesRepository,
    private readonly secrets: EndpointSecrets,
    @InjectDataSource() private readonly db: DataSource,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('appWebhooks', { infer: true });
  }

  async create(dto: CreateWebhookEndpointDto): Promise<EndpointView & { secret: string }> {
    assertKnownEventTypes(dto.events);
    const metadata = dto.metadata ?? {};
    assertMetadataSize(metadata);
    await assertDeliverableUrl(dto.url, this.config.allowPrivateUrls);
    // The id is chosen first: the sealed secret is bound to its row.
    const id = randomUUID();
    const secret = newSigningSecret();
    const enabled = dto.enabled ?? true;
    const endpoint = await this.endpoints.insert({
      id,
      url: dto.url,
      description: dto.description ?? null,
      events: dto.events,
      enabled,
      metadata,
      secretEnc: this.secrets.seal(id, secret),
      disabledAt: enabled ? null : new Date(),
    });
    this.logger.log(`Webhook endpoint ${id} created for ${dto.events.join(',')}`);
    return { ...endpointView(endpoint), secret };
  }

  async get(id: string): Promise<WebhookEndpointEntity> {
    const endpoint = await this.endpoints.findById(id);
    if (!endpoint) throw new WebhookEndpointNotFoundError(id);
    return endpoint;
  }

  async list(query: PageQuery) {
    const limit = query.limit ?? 20;
    const rows = await this.endpoints.findPage(limit, decodeCursor(query.cursor));
    return keysetToPage(rows, limit, endpointView);
  }

  /**
   * Changes what is given. `enabled: true` on a disabled endpoint clears its disabled and
   * failing state and records `endpoint.enabled`; `enabled: false` records
   * `endpoint.disabled` and fails its pending messages (recover resends them later).
   */
  async update(id: string, dto: UpdateWebhookEndpointDto): Promise<EndpointView> {
    // Every field given is applied or refused: an empty url is refused as on create, not skipped.
    if (dto.events !== undefined) assertKnownEventTypes(dto.events);
    if (dto.metadata !== undefined) assertMetadataSize(dto.metadata);
    if (dto.url !== undefined) await assertDeliverableUrl(dto.url, this.config.allowPrivateUrls);
    const saved = await this.db.transaction(async (em) => {
      const e = await this.endpoints.findByIdForUpdate(id, em);
      if (!e) throw new WebhookEndpointNotFoundError(id);
      if (dto.url !== undefined) e.url = dto.url;
      if (dto.events !== undefined) e.events = dto.events;
      if (dto.metadata !== undefined) e.metadata = dto.metadata;
      if (dto.description !== undefined) e.description = dto.description;
      if (dto.enabled === true && !e.enabled) {
        await this.endpoints.recordEvent(id, 'endpoint.enabled', { by: 'api', disabled_at: e.disabledAt?.toISOString() ?? null, disabled_reason: e.disabledReason }, em);
        Object.assign(e, { enabled: true, disabledAt: null, disabledReason: null, failingSince: null });
      } else if (dto.enabled === false && e.enabled) {
        await this.endpoints.recordEvent(id, 'endpoint.disabled', { by: 'api' }, em);
        // No reason: the hub did not disable it, the app did.
        Object.assign(e, { enabled: false, disabledAt: new Date(), disabledReason: null });
        // In the same transaction: a disabled endpoint never has messages waiting.
        await this.messages.failPendingOfEndpoint(id, 'endpoint disabled', em);
      }
      return this.endpoints.save(e, em);
    });
    return endpointView(saved);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.endpoints.deleteById(id))) throw new WebhookEndpointNotFoundError(id);
    this.logger.log(`Webhook endpoint ${id} deleted`);
  }

  /**
   * A new secret, shown in this answer only. The old one moves to the previous-secret
   * column and keeps signing beside the new one for WEBHOOK_SECRET_ROTATION_OVERLAP_SEC
   * (a secret rotated out earlier stops at once).
   */
  async rotateSecret(id: string): Promise<EndpointView & { secret: string }> {
    const secret = newSigningSecret();
    const overlapSec = this.config.secretRotationOverlapSec;
    const saved = await this.db.transaction(async (em) => {
      const e = await this.endpoints.findByIdForUpdate(id, em);
      if (!e) throw new WebhookEndpointNotFoundError(id);
      e.previousSecretEnc = overlapSec > 0 ? this.secrets.resealAsPrevious(id, e.secretEnc) : null;
      e.previousSecretExpiresAt = overlapSec > 0 ? new Date(Date.now() + overlapSec * 1000) : null;
      e.secretEnc = this.secrets.seal(id, secret);
      await this.endpoints.recordEvent(id, 'endpoint.secret_rotated', { previous_secret_expires_at: e.previousSecretExpiresAt?.toISOString() ?? null }, em);
      return this.endpoints.save(e, em);
    });
    this.logger.log(`Webhook endpoint ${id}: signing secret rotated`);
    return { ...endpointView(saved), secret };
  }

  async listEvents(id: string, query: PageQuery) {
    await this.get(id);
    const limit = query.limit ?? 20;
    const rows = await this.endpoints.findEventsPage(id, limit, decodeCursor(query.cursor));
    return keysetToPage(rows, limit, endpointEventView);
  }
}
