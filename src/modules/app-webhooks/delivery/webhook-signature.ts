import { createHmac, randomBytes } from 'node:crypto';

/** Standard Webhooks secrets are `whsec_` + base64 of the key bytes. */
const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

/** A new signing secret (32 random bytes). */
export function newSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/**
 * The `webhook-signature` header of the Standard Webhooks spec (standardwebhooks.com):
 * `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` per secret, space-separated,
 * so a receiver that knows either secret verifies during a rotation.
 */
export function signatureHeader(secrets: readonly string[], messageId: string, timestampSec: number, body: string): string {
  const signed = `${messageId}.${timestampSec}.${body}`;
  return secrets.map((s) => `v1,${createHmac('sha256', keyOf(s)).update(signed).digest('base64')}`).join(' ');
}
