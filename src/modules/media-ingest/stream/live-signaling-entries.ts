import { isRecord } from '../../../common/types/is-record';
import { RtmsEventType, RtmsStreamState } from '../../../zoom/rtms-enums';
import type { LiveEventName, LiveTextEntry } from '../../live';
import type { RtmsMessage } from '../protocol/rtms-message-parser';

/** Events about a list of participants: one live entry per participant. */
const PER_PARTICIPANT: Partial<Record<number, LiveEventName>> = {
  [RtmsEventType.ParticipantJoin]: 'participant.joined',
  [RtmsEventType.ParticipantLeave]: 'participant.left',
  [RtmsEventType.ParticipantVideoOn]: 'participant.video_on',
  [RtmsEventType.ParticipantVideoOff]: 'participant.video_off',
};

/** Events about one user (user_id / user_name on the event itself). */
const ABOUT_ONE_USER: Partial<Record<number, LiveEventName>> = {
  [RtmsEventType.ActiveSpeakerChange]: 'active_speaker.changed',
  [RtmsEventType.SharingStart]: 'sharing.started',
  [RtmsEventType.SharingStop]: 'sharing.stopped',
};

const userIdOf = (v: unknown): number | string | null => (typeof v === 'number' || typeof v === 'string' ? v : null);
const userNameOf = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Zoom's timestamp of the message, or now when it sent none. */
function tsOf(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;
}

/** The live `events` entries of a signaling event (msg 6); none for the kinds apps are not told about. */
/** `now`: when the worker received the message. */
export function liveEventEntries(sessionId: string, msg: RtmsMessage, now = Date.now()): LiveTextEntry[] {
  const ev = isRecord(msg.event) ? msg.event : {};
  const type = typeof ev.event_type === 'number' ? ev.event_type : -1;
  const ts = tsOf(ev.timestamp, now);
  const entry = (data: Record<string, unknown>): LiveTextEntry => ({ media: 'events', session_id: sessionId, ts, received_at: now, data });
  const perParticipant = PER_PARTICIPANT[type];
  if (perParticipant) {
    const list = Array.isArray(ev.participants) ? ev.participants : [];
    return list.filter(isRecord).map((p) => entry({ event: perParticipant, user_id: userIdOf(p.user_id), user_name: userNameOf(p.user_name) }));
  }
  const aboutOne = ABOUT_ONE_USER[type];
  if (aboutOne) return [entry({ event: aboutOne, user_id: userIdOf(ev.user_id), user_name: userNameOf(ev.user_name) })];
  return [];
}

/** The live entry of a stream state change (msg 8). */
export function liveStreamStateEntry(sessionId: string, msg: RtmsMessage, now = Date.now()): LiveTextEntry {
  const state = typeof msg.state === 'number' ? msg.state : null;
  return {
    media: 'events',
    session_id: sessionId,
    ts: tsOf(msg.timestamp, now),
    received_at: now,
    data: { event: 'stream.state_changed' satisfies LiveEventName, state, state_name: state === null ? null : (RtmsStreamState[state] ?? null), reason: msg.reason ?? null },
  };
}
