import { compareEntryIds, FrameHeader, LiveBinaryMedia, LiveTextEntry, LiveTextMedia } from '../live-protocol';

/** Events about one participant carry `user_id` in their data; the others (status changes…) reach every subscriber. */
const PARTICIPANT_KEY = 'user_id';

/** Where a subscription resumes its text: one id for every session, or one per session. */
export type ResumeFrom = string | Readonly<Record<string, string>>;

/** A validated subscribe request (client-request.ts builds it). */
export interface SubscriptionSpec {
  id: string;
  sessions: readonly string[] | 'all';
  textMedia: readonly LiveTextMedia[];
  binaryMedia: readonly LiveBinaryMedia[];
  /** Zoom user ids as the client sent them; null = everyone. */
  participants: ReadonlyArray<string | number> | null;
  resumeFrom: ResumeFrom | null;
}

/**
 * One client subscription and its matching rules. Built once per subscribe, then asked
 * for every entry and frame, so the checks are set lookups with no allocation.
 */
export class Subscription {
  readonly id: string;
  readonly allSessions: boolean;
  readonly sessions: ReadonlySet<string>;
  readonly textMedia: ReadonlySet<LiveTextMedia>;
  /** Sorted, as the registry member names them. */
  readonly binaryMedia: readonly LiveBinaryMedia[];
  private readonly binaryMediaSet: ReadonlySet<LiveBinaryMedia>;
  /** Participant ids as strings (text data carries them as numbers or strings). */
  private readonly participantKeys: ReadonlySet<string> | null;
  /** The numeric ones, compared with a frame header's f64 user id. */
  private readonly participantNumbers: ReadonlySet<number> | null;

  constructor(readonly spec: SubscriptionSpec) {
    this.id = spec.id;
    this.allSessions = spec.sessions === 'all';
    this.sessions = new Set(spec.sessions === 'all' ? [] : spec.sessions);
    this.textMedia = new Set(spec.textMedia);
    this.binaryMedia = [...spec.binaryMedia].sort();
    this.binaryMediaSet = new Set(spec.binaryMedia);
    if (spec.participants) {
      this.participantKeys = new Set(spec.participants.map(String));
      this.participantNumbers = new Set(spec.participants.map(Number).filter((n) => Number.isFinite(n)));
    } else {
      this.participantKeys = null;
      this.participantNumbers = null;
    }
  }

  get wantsText(): boolean {
    return this.textMedia.size > 0;
  }

  get wantsBinary(): boolean {
    return this.binaryMedia.length > 0;
  }

  coversSession(sessionId: string): boolean {
    return this.allSessions || this.sessions.has(sessionId);
  }

  /** The text entry passes this subscription's media and participant filters (the session is the caller's business). */
  wantsEntry(entry: LiveTextEntry): boolean {
    if (!this.textMedia.has(entry.media)) return false;
    if (!this.participantKeys) return true;
    const userId = entry.data[PARTICIPANT_KEY];
    if (userId === undefined || userId === null) return entry.media === 'events';
    return this.participantKeys.has(String(userId));
  }

  /** The frame passes the media and participant filters. Mixed audio (user 0) belongs to no participant: it always passes. */
  wantsFrame(header: Pick<FrameHeader, 'media' | 'userId'>): boolean {
    if (!this.binaryMediaSet.has(header.media)) return false;
    return !this.participantNumbers || header.userId === 0 || this.participantNumbers.has(header.userId);
  }

  /** The entry id to resume a session after, or null for "from now". */
  resumeIdFor(sessionId: string): string | null {
    const from = this.spec.resumeFrom;
    if (from === null) return null;
    if (typeof from === 'string') return from;
    return from[sessionId] ?? smallestId(Object.values(from));
  }
}

function smallestId(ids: readonly string[]): string | null {
  let min: string | null = null;
  for (const id of ids) if (min === null || compareEntryIds(id, min) < 0) min = id;
  return min;
}
