import { randomUUID } from 'node:crypto';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { EndpointSecrets } from '../../src/modules/app-webhooks/delivery/endpoint-secrets';
import { newSigningSecret } from '../../src/modules/app-webhooks/delivery/webhook-signature';

export interface TestEndpoint {
  id: string;
  url: string;
  secret: string;
}

/**
 * Inserts a webhook endpoint straight into the table (no URL checks: tests of the
 * send-time SSRF guard need an endpoint the API would refuse), its secret sealed as the
 * hub seals it.
 */
export async function insertWebhookEndpoint(app: NestExpressApplication, url: string, events: string[] = ['*']): Promise<TestEndpoint> {
  const id = randomUUID();
  const secret = newSigningSecret();
  const sealed = app.get(EndpointSecrets).seal(id, secret);
  await app.get(DataSource).query(`INSERT INTO webhook_endpoints (id, url, events, secret_enc) VALUES ($1, $2, $3, $4)`, [id, url, events, sealed]);
  return { id, url, secret };
}
