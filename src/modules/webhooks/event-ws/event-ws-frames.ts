import { isRecord } from '../../../common/types/is-record';
/** Frames of Zoom's event WebSocket (rtms-protocol.md §5) and the reconnect backoff. */

export type EventWsFrame =
  | { kind: 'event'; event: Record<string, unknown> }
  | { kind: 'heartbeat_ack' }
  | { kind: 'other'; module: string }
  | { kind: 'malformed'; reason: string };

/** The largest frame we parse; Zoom events are a few KB. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * The largest frame the socket accepts (ws `maxPayload`). Far above MAX_FRAME_BYTES on
 * purpose: a frame over ws's limit makes ws close the socket (1009, seen as 1006) and every
 * event Zoom sends until we reconnect is lost (it does not replay them), whereas a frame
 * between the two limits is received, logged with its size and dropped, and the socket
 * stays up. Only a frame over this one still costs the connection (then reconnected at
 * once). 16 MiB is what a single frame may hold in memory, for one socket per deployment.
 */
export const MAX_WIRE_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * Classifies one text frame: `{"module":"message","content":"<event JSON string>"}` is an
 * event, `{"module":"heartbeat",...}` answers our heartbeat. Never throws; anything that
 * is not one of these is `malformed` (with a reason that carries no frame content) or
 * `other` (a module we do not know).
 */
export function parseEventWsFrame(text: string): EventWsFrame {
  if (text.length > MAX_FRAME_BYTES) return { kind: 'malformed', reason: `frame of ${text.length} bytes is too large` };
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return { kind: 'malformed', reason: 'frame is not JSON' };
  }
  if (!isRecord(frame)) return { kind: 'malformed', reason: 'frame is not a JSON object' };
  if (typeof frame.module !== 'string') return { kind: 'malformed', reason: 'frame has no module' };
  if (frame.module === 'heartbeat') return { kind: 'heartbeat_ack' };
  if (frame.module !== 'message') return { kind: 'other', module: frame.module.slice(0, 64) };
  const content = frame.content;
  let event: unknown = content;
  if (typeof content === 'string') {
    try {
      event = JSON.parse(content);
    } catch {
      return { kind: 'malformed', reason: 'message content is not JSON' };
    }
  }
  if (!isRecord(event)) return { kind: 'malformed', reason: 'message content is not a JSON object' };
  if (typeof event.event !== 'string' || event.event.length === 0) return { kind: 'malformed', reason: 'message content has no event name' };
  return { kind: 'event', event };
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from `minMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so many hubs do not reconnect in step.
 */
export function reconnectDelayMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The socket URL with the subscription and token appended, and a copy that is safe to log. */
export function eventWsUrl(base: string, subscriptionId: string, accessToken: string): { url: string; safe: string } {
  const u = new URL(base);
  u.searchParams.set('subscriptionId', subscriptionId);
  u.searchParams.set('access_token', accessToken);
  const safe = new URL(u.toString());
  safe.searchParams.set('access_token', '***');
  return { url: u.toString(), safe: safe.toString() };
}
