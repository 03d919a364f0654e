import { createHmac, timingSafeEqual } from 'node:crypto';

/** hex(HMAC-SHA256(key, message)). */
export function hmacHex(key: string, message: string | Buffer): string {
  return createHmac('sha256', key).update(message).digest('hex');
}

/** Zoom's webhook signature: "v0=" + hex(HMAC-SHA256(secret, "v0:{ts}:{raw body}")). */
export function webhookSignature(secret: string, timestamp: string, rawBody: Buffer | string): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return 'v0=' + hmacHex(secret, Buffer.concat([Buffer.from(`v0:${timestamp}:`, 'utf8'), body]));
}

/** The answer to endpoint.url_validation: hex(HMAC-SHA256(secret, plainToken)). */
export function urlValidationToken(secret: string, plainToken: string): string {
  return hmacHex(secret, plainToken);
}

export type SignatureCheck =
  | { ok: true; secret: string }
  | { ok: false; reason: 'missing_signature' | 'malformed_signature' | 'missing_timestamp' | 'stale_timestamp' | 'bad_signature' | 'no_secret_configured' };

const SIGNATURE_FORMAT = /^v0=[0-9a-f]{64}$/;
const TIMESTAMP_FORMAT = /^\d{1,12}$/;

/**
 * Verifies a webhook against every configured secret (rotation, Video SDK app beside the
 * meeting app), timing-safe, over the raw bytes, with a timestamp window.
 */
export function verifyWebhook(input: {
  rawBody: Buffer;
  signature: string | undefined;
  timestamp: string | undefined;
  secrets: readonly string[];
  nowSeconds: number;
  toleranceSeconds: number;
}): SignatureCheck {
  if (input.secrets.length === 0) return { ok: false, reason: 'no_secret_configured' };
  if (!input.signature) return { ok: false, reason: 'missing_signature' };
  if (!SIGNATURE_FORMAT.test(input.signature)) return { ok: false, reason: 'malformed_signature' };
  if (!input.timestamp || !TIMESTAMP_FORMAT.test(input.timestamp)) return { ok: false, reason: 'missing_timestamp' };
  if (Math.abs(input.nowSeconds - Number(input.timestamp)) > input.toleranceSeconds) return { ok: false, reason: 'stale_timestamp' };
  const given = Buffer.from(input.signature, 'utf8');
  let matched: string | undefined;
  for (const secret of input.secrets) {
    const expected = Buffer.from(webhookSignature(secret, input.timestamp, input.rawBody), 'utf8');
    if (timingSafeEqual(expected, given) && matched === undefined) matched = secret;
  }
  return matched === undefined ? { ok: false, reason: 'bad_signature' } : { ok: true, secret: matched };
}
