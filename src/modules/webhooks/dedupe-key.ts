import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so the same event hashes alike whatever its key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Dedupe key of a Zoom event: its name, stream, event_ts and content. A redelivery (the
 * same event again, by webhook retry or over the event WebSocket) gets the same key; a
 * failover rtms_started (new server_urls) gets a new one.
 */
export function zoomEventDedupeKey(event: string, body: Record<string, unknown>): string {
  const payload = (body.payload ?? {}) as Record<string, unknown>;
  const stream = typeof payload.rtms_stream_id === 'string' ? payload.rtms_stream_id : '';
  const ts = typeof body.event_ts === 'number' || typeof body.event_ts === 'string' ? String(body.event_ts) : '';
  return `zoom:${createHash('sha256').update(`${event}\n${stream}\n${ts}\n`).update(canonicalJson(body)).digest('hex')}`;
}
