import { isEntryId, isLiveMedia, isTextMedia, LiveBinaryMedia, LiveMedia, LiveTextMedia } from '../live-protocol';
import { isRecord } from '../../../common/types/is-record';
import { ResumeFrom, SubscriptionSpec } from './subscription';

/** What a client may send on the live WebSocket. */
export type ClientRequest = { type: 'subscribe'; spec: SubscriptionSpec } | { type: 'unsubscribe'; id: string };

/** A refused request: answered with `{"type":"error","code":"bad_request",...}`; the connection stays open. */
export interface RequestError {
  error: string;
  /** The subscription id, when the request named a usable one. */
  id?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Subscription ids are echoed on every message: short, printable. */
const SUBSCRIPTION_ID = /^[\x21-\x7e]{1,64}$/;
const MAX_SESSIONS = 100;
const MAX_PARTICIPANTS = 500;
const SUBSCRIBE_FIELDS = new Set(['type', 'id', 'sessions', 'media', 'participants', 'resume_from']);
const UNSUBSCRIBE_FIELDS = new Set(['type', 'id']);

/** Parses and strictly validates one text message from a client. */
export function parseClientRequest(text: string): ClientRequest | RequestError {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { error: 'message is not JSON' };
  }
  if (!isRecord(message)) return { error: 'message must be a JSON object' };
  const id = typeof message.id === 'string' && SUBSCRIPTION_ID.test(message.id) ? message.id : undefined;
  const fail = (error: string): RequestError => (id ? { error, id } : { error });
  switch (message.type) {
    case 'subscribe': {
      const spec = parseSubscribe(message, id);
      return typeof spec === 'string' ? fail(spec) : { type: 'subscribe', spec };
    }
    case 'unsubscribe': {
      const unknown = Object.keys(message).find((k) => !UNSUBSCRIBE_FIELDS.has(k));
      if (unknown) return fail(`unknown field '${unknown}'`);
      return id ? { type: 'unsubscribe', id } : fail('id must be 1-64 printable ASCII characters');
    }
    default:
      return fail("type must be 'subscribe' or 'unsubscribe'");
  }
}

/** The spec, or what is wrong with the request. */
function parseSubscribe(m: Record<string, unknown>, id: string | undefined): SubscriptionSpec | string {
  const unknown = Object.keys(m).find((k) => !SUBSCRIBE_FIELDS.has(k));
  if (unknown) return `unknown field '${unknown}'`;
  if (!id) return 'id must be 1-64 printable ASCII characters';

  let sessions: string[] | 'all';
  if (m.sessions === 'all') sessions = 'all';
  else if (Array.isArray(m.sessions) && m.sessions.length > 0 && m.sessions.length <= MAX_SESSIONS && m.sessions.every((s) => typeof s === 'string' && UUID.test(s))) {
    sessions = [...new Set((m.sessions as string[]).map((s) => s.toLowerCase()))];
  } else return `sessions must be 'all' or a list of 1-${MAX_SESSIONS} session ids (UUIDs)`;

  if (!Array.isArray(m.media) || m.media.length === 0 || !m.media.every(isLiveMedia)) {
    return 'media must be a non-empty list of events, transcript, chat, audio, video, deskshare';
  }
  const media = [...new Set(m.media as LiveMedia[])];
  const textMedia = media.filter(isTextMedia) as LiveTextMedia[];
  const binaryMedia = media.filter((x) => !isTextMedia(x)) as LiveBinaryMedia[];

  let participants: Array<string | number> | null = null;
  if (m.participants !== undefined) {
    const ok =
      Array.isArray(m.participants) &&
      m.participants.length > 0 &&
      m.participants.length <= MAX_PARTICIPANTS &&
      m.participants.every((p) => (typeof p === 'string' && p.length > 0 && p.length <= 64) || (typeof p === 'number' && Number.isFinite(p)));
    if (!ok) return `participants must be a list of 1-${MAX_PARTICIPANTS} Zoom user ids (strings or numbers)`;
    participants = m.participants as Array<string | number>;
  }

  let resumeFrom: ResumeFrom | null = null;
  if (m.resume_from !== undefined) {
    const parsed = parseResumeFrom(m.resume_from, sessions);
    if ('error' in parsed) return parsed.error;
    resumeFrom = parsed.resumeFrom;
  }
  return { id, sessions, textMedia, binaryMedia, participants, resumeFrom };
}

function parseResumeFrom(v: unknown, sessions: string[] | 'all'): { resumeFrom: ResumeFrom } | { error: string } {
  if (isEntryId(v)) return { resumeFrom: v };
  if (!isRecord(v)) return { error: 'resume_from must be an entry id or a map of session id to entry id' };
  const entries = Object.entries(v);
  if (entries.length === 0 || entries.length > MAX_SESSIONS) return { error: `resume_from must name 1-${MAX_SESSIONS} sessions` };
  const map: Record<string, string> = {};
  for (const [session, id] of entries) {
    if (!UUID.test(session) || !isEntryId(id)) return { error: 'resume_from must map session ids (UUIDs) to entry ids' };
    const key = session.toLowerCase();
    if (sessions !== 'all' && !sessions.includes(key)) return { error: `resume_from names session ${key}, which is not subscribed` };
    map[key] = id;
  }
  return { resumeFrom: map };
}
