import { randomUUID } from 'node:crypto';
import { EndpointSecrets } from '../../src/modules/app-webhooks/delivery/endpoint-secrets';
import { newSigningSecret } from '../../src/modules/app-webhooks/delivery/webhook-signature';
import { query } from '../utils/db';
import type { TestApp } from '../utils/test-app';

export interface NewWebhookEndpoint {
  url: string;
  events?: string[];
  enabled?: boolean;
}

/**
 * Inserts an app's webhook endpoint directly (the endpoints REST API lives elsewhere),
 * its secret sealed by the hub's own EndpointSecrets. Returns its id and the plain
 * secret (`whsec_…`) a receiver verifies with.
 */
export async function insertWebhookEndpoint(hub: TestApp, e: NewWebhookEndpoint): Promise<{ id: string; secret: string }> {
  const id = randomUUID();
  const secret = newSigningSecret();
  const sealed = hub.app.get(EndpointSecrets, { strict: false }).seal(id, secret);
  await query(hub.app, `INSERT INTO webhook_endpoints (id, url, events, enabled, secret_enc) VALUES ($1, $2, $3, $4, $5)`, [id, e.url, e.events ?? ['*'], e.enabled ?? true, sealed]);
  return { id, secret };
}
