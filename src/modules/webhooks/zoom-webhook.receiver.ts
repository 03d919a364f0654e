import { BadRequestException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { RawBodyRequest } from '../../common/http/body-parsers';
import { isRecord } from '../../common/types/is-record';
import { AppConfig } from '../../config/app.config';
import { URL_VALIDATION_EVENT } from '../../zoom/webhook-events';
import { EventSource } from '../sessions';
import { ZoomEventIntakeService } from './zoom-event-intake.service';
import { urlValidationToken, verifyWebhook } from './zoom-signature';

const MAX_PLAIN_TOKEN = 256;

export type WebhookAnswer = { plainToken: string; encryptedToken: string } | { status: 'accepted' | 'duplicate' };

/**
 * Zoom's webhook, from raw request to answer. Every request, URL validation included,
 * must carry a valid signature: answering an unsigned url_validation would hand out
 * HMACs of chosen strings, which is enough to forge signatures. Throws HttpExceptions
 * with stable codes for every refusal.
 */
@Injectable()
export class ZoomWebhookReceiver {
  private readonly logger = new Logger(ZoomWebhookReceiver.name);

  constructor(
    private readonly intake: ZoomEventIntakeService,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  async receive(req: RawBodyRequest): Promise<WebhookAnswer> {
    if (!req.rawBody || !req.is('application/json')) {
      this.intake.countRefused(EventSource.Webhook, 'not_json');
      throw new BadRequestException({ code: 'json_required', message: 'Zoom webhooks are application/json' });
    }
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const check = verifyWebhook({
      rawBody: req.rawBody,
      signature: header('x-zm-signature'),
      timestamp: header('x-zm-request-timestamp'),
      secrets: this.config.get('zoom', { infer: true }).webhookSecretTokens,
      nowSeconds: Math.floor(Date.now() / 1000),
      toleranceSeconds: this.config.get('webhooks', { infer: true }).timestampToleranceSeconds,
    });
    if (!check.ok) {
      this.intake.countRefused(EventSource.Webhook, check.reason);
      if (check.reason === 'no_secret_configured') this.logger.error('Webhook refused: ZOOM_WEBHOOK_SECRET_TOKEN is not configured');
      throw new UnauthorizedException({ code: 'invalid_signature', message: `Webhook signature check failed: ${check.reason}` });
    }

    const body: unknown = req.body;
    if (isRecord(body) && body.event === URL_VALIDATION_EVENT) {
      const plainToken = isRecord(body.payload) ? body.payload.plainToken : undefined;
      if (typeof plainToken !== 'string' || plainToken.length === 0 || plainToken.length > MAX_PLAIN_TOKEN) {
        throw new BadRequestException({ code: 'invalid_plain_token', message: 'payload.plainToken must be a non-empty string' });
      }
      return { plainToken, encryptedToken: urlValidationToken(check.secret, plainToken) };
    }

    const outcome = await this.intake.ingest(body, EventSource.Webhook, req.rawBody.toString('utf8'));
    return { status: outcome };
  }
}
