/** Zoom's signatures (rtms-protocol.md §1, §2, §5), from the formulas in the spec. */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'crypto';

export function hmacHex(key: string, message: string | Buffer): string {
  return createHmac('sha256', key).update(message).digest('hex');
}

/** `encryptedToken` for an `endpoint.url_validation` challenge. */
export function urlValidationToken(secretToken: string, plainToken: string): string {
  return hmacHex(secretToken, plainToken);
}

/** `x-zm-signature` for a webhook body (`v0=` + hex HMAC of `v0:{ts}:{body}`). */
export function webhookSignature(secretToken: string, timestampSec: number | string, rawBody: string | Buffer): string {
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  return 'v0=' + hmacHex(secretToken, `v0:${timestampSec}:${body}`);
}

/** RTMS handshake signature: hex HMAC of `client_id,meeting_uuid,rtms_stream_id` keyed by the client secret. */
export function rtmsHandshakeSignature(clientId: string, clientSecret: string, id: string, streamId: string): string {
  return hmacHex(clientSecret, `${clientId},${id},${streamId}`);
}

/** PKCE S256 challenge: base64url(sha256(verifier)) without padding. */
export function pkceS256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** A Zoom-looking meeting UUID: 16 random bytes, base64, ending in `==`. */
export function randomMeetingUuid(): string {
  return randomBytes(16).toString('base64');
}
