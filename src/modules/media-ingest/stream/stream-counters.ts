import type { ReceivedCounts } from '../../sessions';
import { MAX_TRACKED_PARTICIPANTS } from './participant-cap';

const KEYS = new Map<string, { messages: string; bytes: string }>();

/**
 * What one stream received, counted in memory on the hot path (two integer additions per
 * media message) and handed to the database as deltas every few seconds and at the end
 * (StreamSession). They show on GET /sessions/:id as `received_counts`, so an operator
 * sees a meeting was streamed even when nothing of it was stored (zero retention):
 * `<type>_messages` / `<type>_bytes` per media type (audio, video, deskshare, transcript,
 * chat; bytes as received on the socket), `events` (signaling events, msg 6) and
 * `participants_seen` (distinct user ids in join events; merged by maximum, not summed).
 */
export class StreamCounters {
  private pending: ReceivedCounts = {};
  private dirty = false;
  private readonly participants = new Set<string>();
  private reportedParticipants = 0;

  media(type: string, bytes: number): void {
    // Key names built once per type, not per message.
    let k = KEYS.get(type);
    if (!k) {
      k = { messages: `${type}_messages`, bytes: `${type}_bytes` };
      KEYS.set(type, k);
    }
    const p = this.pending;
    p[k.messages] = (p[k.messages] ?? 0) + 1;
    p[k.bytes] = (p[k.bytes] ?? 0) + bytes;
    this.dirty = true;
  }

  event(): void {
    this.pending.events = (this.pending.events ?? 0) + 1;
    this.dirty = true;
  }

  participant(userId: string): void {
    // Bounded like every per-user state of a stream: an id-inventing peer cannot grow it.
    if (this.participants.size >= MAX_TRACKED_PARTICIPANTS || this.participants.has(userId)) return;
    this.participants.add(userId);
    this.dirty = true;
  }

  /** What was counted since the last take (participants_seen: the distinct count so far), or null when nothing was. */
  take(): ReceivedCounts | null {
    if (!this.dirty) return null;
    const delta = this.pending;
    if (this.participants.size !== this.reportedParticipants) {
      delta.participants_seen = this.participants.size;
      this.reportedParticipants = this.participants.size;
    }
    this.pending = {};
    this.dirty = false;
    return Object.keys(delta).length > 0 ? delta : null;
  }
}
