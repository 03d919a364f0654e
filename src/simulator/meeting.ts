/** A scripted meeting: who is present, on camera, speaking, sharing at a given script time. */
import type { ChatLine, ParticipantScript, SimMeeting, SpeechLine } from './types';

export interface Participant extends ParticipantScript {
  /** Palette / tone slot (distinct per participant in a meeting). */
  slot: number;
  /** Set for Zoom Rooms that joined through the Rooms API. */
  roomId?: string;
}

/** A transcript line of the script, with when it ends (it is sent then). */
export interface TimedSpeech {
  participant: Participant;
  line: SpeechLine;
  end: number;
}

export interface TimedChat {
  participant: Participant;
  line: ChatLine;
}

/** The first index whose element is past `t` by `key` (arr sorted by key): a binary search. */
function firstAfter<T>(arr: readonly T[], t: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(arr[mid]) > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class MeetingState implements SimMeeting {
  readonly participants: Participant[] = [];
  ended = false;
  private nextSlot = 0;
  /**
   * The script's transcript lines by end and chat lines by time: the pump asks every tick
   * (50 a second per stream), and a scan of the whole script each time made a long meeting
   * the simulator's main cost. Rebuilt when the script changes: a participant added, or a
   * participant's `speaks` / `chat` replaced or grown (tests rewrite a live meeting's script
   * through `find()`); `indexedLines` is what the index was built from.
   */
  private speechByEnd: TimedSpeech[] | null = null;
  private chatByTime: TimedChat[] | null = null;
  private indexedLines: Array<{ speaks?: unknown[]; speaksLength: number; chat?: unknown[]; chatLength: number }> = [];

  constructor(
    readonly id: number,
    readonly uuid: string,
    readonly topic: string,
    readonly passcode: string,
    readonly hostUserId: string,
    readonly altHostUserIds: string[],
    readonly kind: 'meeting' | 'webinar' | 'session',
    readonly createdAt: number,
    readonly durationMs: number | undefined,
    private readonly speed: number,
    scripted: ParticipantScript[],
  ) {
    for (const p of scripted) this.add(p);
  }

  add(p: ParticipantScript, roomId?: string): Participant {
    const q: Participant = { ...p, slot: this.nextSlot++, roomId };
    this.participants.push(q);
    return q;
  }

  /** Drops the line index if the script's lines changed since it was built (O(participants)). */
  private checkIndex(): void {
    const ps = this.participants;
    const seen = this.indexedLines;
    let same = seen.length === ps.length;
    for (let i = 0; same && i < ps.length; i++) {
      const p = ps[i];
      const was = seen[i];
      same = was.speaks === p.speaks && was.speaksLength === (p.speaks?.length ?? 0) && was.chat === p.chat && was.chatLength === (p.chat?.length ?? 0);
    }
    if (same) return;
    this.speechByEnd = null;
    this.chatByTime = null;
    this.indexedLines = ps.map((p) => ({ speaks: p.speaks, speaksLength: p.speaks?.length ?? 0, chat: p.chat, chatLength: p.chat?.length ?? 0 }));
  }

  /**
   * Transcript lines that ended in (from, to] and whose speaker was present when they
   * started, in the order they ended (ties: join order, then script order), as Zoom sends them.
   */
  speechEndedIn(from: number, to: number): TimedSpeech[] {
    this.checkIndex();
    this.speechByEnd ??= this.participants
      .flatMap((participant) => (participant.speaks ?? []).map((line) => ({ participant, line, end: line.atMs + (line.durationMs ?? 2000) })))
      .sort((a, b) => a.end - b.end);
    return this.window(this.speechByEnd, from, to, (x) => x.end);
  }

  /** Chat lines sent in (from, to] by a participant present then, in time order (ties as above). */
  chatIn(from: number, to: number): TimedChat[] {
    this.checkIndex();
    this.chatByTime ??= this.participants.flatMap((participant) => (participant.chat ?? []).map((line) => ({ participant, line }))).sort((a, b) => a.line.atMs - b.line.atMs);
    return this.window(this.chatByTime, from, to, (x) => x.line.atMs);
  }

  /** The lines of `all` (sorted by `at`) with from < at ≤ to whose participant was present when the line began. */
  private window<T extends TimedChat>(all: readonly T[], from: number, to: number, at: (x: T) => number): T[] {
    const due: T[] = [];
    for (let i = firstAfter(all, from, at); i < all.length && at(all[i]) <= to; i++) if (this.present(all[i].participant, all[i].line.atMs)) due.push(all[i]);
    return due;
  }

  /** Script time (ms since the meeting was created, scaled by `speed`). */
  now(): number {
    return (Date.now() - this.createdAt) * this.speed;
  }

  /** Zoom-server timestamp (epoch ms) for a script time. */
  epoch(t: number): number {
    return Math.round(this.createdAt + t);
  }

  present(p: Participant, t: number): boolean {
    return (p.joinAtMs ?? 0) <= t && (p.leaveAtMs === undefined || t < p.leaveAtMs);
  }

  cameraOn(p: Participant, t: number): boolean {
    if (!this.present(p, t)) return false;
    let on = p.camera !== false;
    let last = -Infinity;
    for (const s of p.cameraSchedule ?? []) if (s.atMs <= t && s.atMs >= last) {
      on = s.on;
      last = s.atMs;
    }
    return on;
  }

  speaking(p: Participant, t: number): boolean {
    return this.present(p, t) && (p.speaks ?? []).some((s) => s.atMs <= t && t < s.atMs + (s.durationMs ?? 2000));
  }

  /**
   * The active speaker at script time `t`, a pure function of the script (so the video of a
   * frame and the event agree whenever either is computed): the first present participant (in
   * join order) speaking at `t`; when nobody speaks, the one whose speech ended last (the screen
   * stays on them); undefined before anyone has spoken.
   */
  activeSpeaker(t: number): Participant | undefined {
    const present = this.presentAt(t);
    const now = present.find((p) => this.speaking(p, t));
    if (now) return now;
    let best: Participant | undefined;
    let bestEnd = -Infinity;
    for (const p of present)
      for (const s of p.speaks ?? []) {
        const end = s.atMs + (s.durationMs ?? 2000);
        if (end <= t && end > bestEnd) {
          best = p;
          bestEnd = end;
        }
      }
    return best;
  }

  sharer(t: number): Participant | undefined {
    return this.participants.find((p) => this.present(p, t) && (p.shares ?? []).some((s) => s.fromMs <= t && t < s.toMs));
  }

  presentAt(t: number): Participant[] {
    return this.participants.filter((p) => this.present(p, t));
  }

  find(userId: number): Participant | undefined {
    return this.participants.find((p) => p.userId === userId);
  }
}
