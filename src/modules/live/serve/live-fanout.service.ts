import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { LiveProtocolErrorCode } from '../../../common/errors/error-codes';
import { SessionsService } from '../../sessions';
import { ALL_SESSIONS, decodeFrameHeader, FrameHeader, LIVE_BINARY_MEDIA, LiveBinaryMedia, LiveCloseCode, LOG_EXPIRY_GRACE_MS, unpackFrames } from '../live-protocol';
import { ActiveSessions } from './active-sessions';
import { LiveClient } from './live-client';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { MediaRegistry } from './media-registry';
import { MediaSubscriber } from './media-subscriber';
import { Subscription, SubscriptionSpec } from './subscription';
import { TextCursor } from './text-cursor';
import { LogEntry, TextLog } from './text-log';
import { TextLogReader } from './text-log-reader';
import { LOG_START, replayLog } from './text-replay';

const REPLAY_PAGE_SIZE = 200;
/** WebSocket's "internal error": the hub could not read a log, the client should reconnect and resume. */
const INTERNAL_ERROR_CLOSE = 1011;
/** On shutdown, clients get this long to answer the GoingAway close before their sockets are cut. */
const SHUTDOWN_CLOSE_GRACE_MS = 1000;

/** A subscription with the client that holds it. */
interface Attached {
  client: LiveClient;
  sub: Subscription;
}

/**
 * The live fan-out of one API process: the clients and their subscriptions, indexed
 * by session, fed by the text log reader and the media subscriber. Keeps the reader's
 * session set, the pub/sub channels and the media registry equal to what the
 * subscriptions need. Transports (WebSocket, SSE) hand clients in and out.
 */
@Injectable()
export class LiveFanout implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LiveFanout.name);
  private readonly clients = new Set<LiveClient>();
  /** Text cursors per session: the reader reads exactly these sessions. */
  private readonly cursorsBySession = new Map<string, Set<TextCursor>>();
  private readonly cursorsBySub = new Map<Subscription, Map<string, TextCursor>>();
  /** `all` text subscriptions: each session that becomes active gets a cursor, replayed from its log's start. */
  private readonly allTextSubs = new Set<Attached>();
  /**
   * Where each `all` subscription had got to in sessions that went quiet (left the active
   * set): if one becomes active again while its log still lives, the subscription goes on
   * from there rather than from the log's start, which would send what it had already
   * sent (the approximate trim keeps old entries). Entries older than the log's life go.
   */
  private readonly parked = new WeakMap<Subscription, Map<string, { position: string; at: number }>>();
  /** `all` text subscribes still reading the active sessions: they keep the watch on until they attach or give up. */
  private pendingAllText = 0;
  private readonly mediaBySession = new Map<string, Set<Attached>>();
  private readonly allMedia = new Set<Attached>();
  private mediaSyncScheduled = false;
  /** Increments per frame; a client whose stamp equals it already has the frame. */
  private frameStamp = 0;

  constructor(
    private readonly sessions: SessionsService,
    private readonly log: TextLog,
    private readonly reader: TextLogReader,
    private readonly activeSessions: ActiveSessions,
    private readonly mediaSubscriber: MediaSubscriber,
    private readonly registry: MediaRegistry,
    private readonly metrics: LiveMetrics,
    private readonly settings: LiveSettings,
  ) {}

  onModuleInit(): void {
    this.reader.setHandler((sessionId, entries) => this.deliverText(sessionId, entries));
    this.mediaSubscriber.setHandlers(
      (sessionId, packed) => this.deliverMedia(sessionId, packed),
      (sessionId) => this.activeSessions.announced(sessionId),
    );
    this.activeSessions.setListener((added, removed) => this.onActiveSessionsChanged(added, removed));
  }

  /** Closes every client with GoingAway (they reconnect elsewhere and resume). */
  async onModuleDestroy(): Promise<void> {
    const clients = [...this.clients];
    for (const client of clients) client.close(LiveCloseCode.GoingAway, 'shutdown', 'Server shutting down: reconnect and resume');
    if (clients.length > 0) await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_CLOSE_GRACE_MS));
    for (const client of clients) client.transport.terminate();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Every client currently connected (tests and diagnostics). */
  connectedClients(): readonly LiveClient[] {
    return [...this.clients];
  }

  /** Takes in a connected client; LiveClient.ended hands it back through `remove`. */
  add(client: LiveClient): void {
    this.clients.add(client);
  }

  /** Frees everything a gone client held. */
  remove(client: LiveClient): void {
    if (!this.clients.delete(client)) return;
    for (const sub of [...client.subscriptions.values()]) this.detach(client, sub);
  }

  /** Checks and attaches a subscription, answers `subscribed` (or `error`), then starts its replays. */
  async subscribe(client: LiveClient, spec: SubscriptionSpec): Promise<boolean> {
    const refuse = (code: LiveProtocolErrorCode, message: string, extra: Record<string, unknown> = {}) => {
      client.sendControl({ type: 'error', code, message, id: spec.id, ...extra });
      return false;
    };
    if (client.subscriptions.has(spec.id) || client.reservedIds.has(spec.id)) return refuse(LiveProtocolErrorCode.DuplicateSubscription, `Subscription ${spec.id} exists already`);
    if (client.subscriptions.size + client.reservedIds.size >= this.maxSubscriptions) {
      return refuse(LiveProtocolErrorCode.TooManySubscriptions, `At most ${this.maxSubscriptions} subscriptions per connection`);
    }
    const allowed = client.principal.sessionIds;
    if (allowed && (spec.sessions === 'all' || spec.sessions.some((s) => !allowed.has(s)))) {
      return refuse(LiveProtocolErrorCode.SessionNotAllowed, 'The ticket does not allow these sessions');
    }
    const owner = client.principal.owner;
    // `all` follows sessions as they become active, unfiltered: an owner-scoped key names its sessions instead.
    if (owner && spec.sessions === 'all') return refuse(LiveProtocolErrorCode.SessionNotAllowed, 'An owner-scoped API key cannot subscribe to all sessions: name them');
    const sub = new Subscription(spec);
    client.reservedIds.add(spec.id);
    let initialSessions: string[];
    try {
      if (spec.sessions !== 'all') {
        // Another owner's session is reported missing, as if it did not exist.
        const existing = await this.sessions.existingIds([...spec.sessions], owner);
        const missing = spec.sessions.filter((s) => !existing.has(s));
        if (missing.length > 0) return refuse(LiveProtocolErrorCode.SessionNotFound, 'No such session', { sessions: missing });
        initialSessions = sub.wantsText ? [...spec.sessions] : [];
      } else if (sub.wantsText) {
        this.pendingAllText++;
        this.activeSessions.setWatching(true);
        try {
          initialSessions = await this.activeSessions.current();
        } finally {
          this.pendingAllText--;
        }
      } else {
        initialSessions = [];
      }
    } catch (err) {
      this.syncWatching();
      this.logger.warn(`Subscribe ${spec.id} failed: ${(err as Error).message}`);
      return refuse(LiveProtocolErrorCode.Unavailable, 'Could not check the subscription: try again');
    } finally {
      client.reservedIds.delete(spec.id);
    }
    // The client left while this was checked: it holds nothing yet, and an `all` it asked for needs no watch.
    if (client.closed) {
      this.syncWatching();
      return false;
    }

    const attached: Attached = { client, sub };
    client.subscriptions.set(sub.id, sub);
    this.metrics.subscriptions.inc();
    let cursors: TextCursor[] = [];
    if (sub.wantsText) {
      if (sub.allSessions) this.allTextSubs.add(attached);
      cursors = initialSessions.map((s) => this.openCursor(client, sub, s, sub.resumeIdFor(s)));
      try {
        await this.reader.track(initialSessions);
      } catch (err) {
        // Without its starting ids the reader could leave a gap: refuse instead.
        this.detach(client, sub);
        this.logger.warn(`Subscribe ${spec.id} failed: ${(err as Error).message}`);
        return refuse(LiveProtocolErrorCode.Unavailable, 'Could not start reading the sessions: try again');
      }
    }
    if (client.closed || client.subscriptions.get(sub.id) !== sub) return false;
    // A cursor from now starts where the reader does: should its session go quiet before
    // anything new arrives, the subscription goes on from there (parked), not from the log's start.
    for (const cursor of cursors) if (cursor.position === null) cursor.noteStart(this.reader.positionOf(cursor.sessionId));
    // Frames only once the subscription is accepted: never before `subscribed`, nor for one then refused.
    if (sub.wantsBinary) {
      if (sub.allSessions) this.allMedia.add(attached);
      else for (const s of sub.sessions) setAdd(this.mediaBySession, s, attached);
      this.scheduleMediaSync();
    }
    client.sendControl({ type: 'subscribed', id: sub.id, sessions: spec.sessions, media: [...spec.textMedia, ...spec.binaryMedia] });
    for (const cursor of cursors) this.startCursor(client, cursor, cursor.position !== null);
    return true;
  }

  unsubscribe(client: LiveClient, id: string): void {
    const sub = client.subscriptions.get(id);
    if (!sub) {
      client.sendControl({ type: 'error', code: LiveProtocolErrorCode.UnknownSubscription, message: `No subscription ${id}`, id });
      return;
    }
    this.detach(client, sub);
    client.sendControl({ type: 'unsubscribed', id });
  }

  /** Entries the reader read for one session, in id order. */
  deliverText(sessionId: string, entries: readonly LogEntry[]): void {
    const cursors = this.cursorsBySession.get(sessionId);
    if (!cursors) return;
    for (const entry of entries) for (const cursor of cursors) cursor.onLive(entry);
  }

  /** One pub/sub message of a session's media: each frame to every client with a matching subscription, once per client. */
  deliverMedia(sessionId: string, packed: Buffer): void {
    const explicit = this.mediaBySession.get(sessionId);
    if (!explicit && this.allMedia.size === 0) return;
    const now = Date.now();
    const corked: LiveClient[] = [];
    const sentCount: Record<LiveBinaryMedia, number> = { audio: 0, video: 0, deskshare: 0 };
    const sentBytes: Record<LiveBinaryMedia, number> = { audio: 0, video: 0, deskshare: 0 };
    const firstStamp = this.frameStamp + 1;
    for (const frame of unpackFrames(packed)) {
      const header = decodeFrameHeader(frame);
      if (!header) continue;
      const stamp = ++this.frameStamp;
      let sent = 0;
      if (explicit) sent += this.sendToTargets(explicit, frame, header, stamp, firstStamp, now, corked);
      if (this.allMedia.size > 0) sent += this.sendToTargets(this.allMedia, frame, header, stamp, firstStamp, now, corked);
      if (sent > 0) {
        sentCount[header.media] += sent;
        sentBytes[header.media] += sent * frame.length;
        this.metrics.latency(header.media, header.timestamp, now);
      }
    }
    for (const client of corked) client.transport.uncork();
    for (const media of LIVE_BINARY_MEDIA) if (sentCount[media] > 0) this.metrics.sent(media, sentCount[media], sentBytes[media]);
  }

  /** Sends one frame to the matching targets that do not have it yet (stamp); returns how many got it. */
  private sendToTargets(targets: Set<Attached>, frame: Buffer, header: FrameHeader, stamp: number, firstStamp: number, now: number, corked: LiveClient[]): number {
    let sent = 0;
    for (const { client, sub } of targets) {
      if (client.frameStamp === stamp || client.closed || !sub.wantsFrame(header)) continue;
      // A stamp older than this message's first frame: the client's first frame of the message, so cork its socket until the end.
      if (client.frameStamp < firstStamp) {
        client.transport.cork();
        corked.push(client);
      }
      client.frameStamp = stamp;
      if (client.sendFrame(frame, header.media, now)) sent++;
    }
    return sent;
  }

  private get maxSubscriptions(): number {
    return this.settings.config.maxSubscriptionsPerClient;
  }

  private openCursor(client: LiveClient, sub: Subscription, sessionId: string, after: string | null): TextCursor {
    let bySession = this.cursorsBySub.get(sub);
    if (!bySession) this.cursorsBySub.set(sub, (bySession = new Map()));
    const existing = bySession.get(sessionId);
    if (existing) return existing;
    const cursor = new TextCursor(sub, sessionId, client, after);
    bySession.set(sessionId, cursor);
    setAdd(this.cursorsBySession, sessionId, cursor);
    return cursor;
  }

  /** Replays from the cursor's position (with a gap check when the client asked to resume), or just goes live. */
  private startCursor(client: LiveClient, cursor: TextCursor, replay: boolean, checkGap = true): void {
    if (!replay) {
      cursor.finishReplay();
      return;
    }
    void this.replay(client, cursor, checkGap).catch((err: Error) => {
      this.logger.warn(`Replaying session ${cursor.sessionId} for a live client failed: ${err.message}`);
      client.close(INTERNAL_ERROR_CLOSE, 'error', 'Could not read the session log: reconnect and resume');
    });
  }

  private async replay(client: LiveClient, cursor: TextCursor, checkGap: boolean): Promise<void> {
    const requested = cursor.position;
    if (checkGap && requested !== null && requested !== LOG_START) {
      const gap = await this.log.gapAfter(cursor.sessionId, requested);
      if (cursor.cancelled) return;
      if (gap) {
        client.sendControl({ type: 'resume_gap', sub: cursor.subscription.id, session_id: cursor.sessionId, requested, oldest_available: gap.oldestAvailable });
        if (gap.fromStart) cursor.rewind(LOG_START);
      }
    }
    await replayLog(cursor, this.log, { pageSize: REPLAY_PAGE_SIZE, whenWritable: () => client.whenWritable() });
  }

  private onActiveSessionsChanged(added: string[], removed: string[]): void {
    if (added.length > 0 && this.allTextSubs.size > 0) {
      const fresh: Array<{ client: LiveClient; cursor: TextCursor; resumed: boolean }> = [];
      for (const { client, sub } of this.allTextSubs) {
        for (const s of added) {
          if (this.cursorsBySub.get(sub)?.has(s)) continue;
          const position = this.unpark(sub, s);
          fresh.push({ client, cursor: this.openCursor(client, sub, s, position ?? LOG_START), resumed: position !== undefined });
        }
      }
      // A session that became active after the subscription: its whole log is new to the
      // subscriber. One it had read before it went quiet: from where it was (gap-checked).
      this.reader.track(added).then(
        () => fresh.forEach(({ client, cursor, resumed }) => !cursor.cancelled && this.startCursor(client, cursor, true, resumed)),
        (err: Error) => {
          this.logger.warn(`Reading newly active sessions failed: ${err.message}`);
          for (const { client } of fresh) client.close(INTERNAL_ERROR_CLOSE, 'error', 'Could not read the session log: reconnect and resume');
        },
      );
    }
    for (const s of removed) {
      for (const { sub } of this.allTextSubs) {
        if (sub.sessions.has(s)) continue;
        const cursor = this.cursorsBySub.get(sub)?.get(s);
        if (!cursor) continue;
        this.park(sub, s, cursor.resumePoint);
        this.closeCursor(sub, cursor);
      }
    }
  }

  private park(sub: Subscription, sessionId: string, position: string | null): void {
    if (position === null || position === LOG_START) return;
    let bySession = this.parked.get(sub);
    if (!bySession) this.parked.set(sub, (bySession = new Map()));
    const now = Date.now();
    for (const [s, p] of bySession) if (now - p.at > this.logLifeMs) bySession.delete(s);
    bySession.set(sessionId, { position, at: now });
  }

  private unpark(sub: Subscription, sessionId: string): string | undefined {
    const bySession = this.parked.get(sub);
    const p = bySession?.get(sessionId);
    bySession?.delete(sessionId);
    return p && Date.now() - p.at <= this.logLifeMs ? p.position : undefined;
  }

  /** How long a quiet session's log lives: a parked position older than that points into a log gone. */
  private get logLifeMs(): number {
    return this.settings.config.resumeWindowSec * 1000 + LOG_EXPIRY_GRACE_MS;
  }

  private detach(client: LiveClient, sub: Subscription): void {
    if (client.subscriptions.get(sub.id) !== sub) return;
    client.subscriptions.delete(sub.id);
    this.metrics.subscriptions.dec();
    for (const cursor of [...(this.cursorsBySub.get(sub)?.values() ?? [])]) this.closeCursor(sub, cursor);
    this.cursorsBySub.delete(sub);
    for (const a of this.allTextSubs) if (a.sub === sub) this.allTextSubs.delete(a);
    this.syncWatching();
    if (sub.wantsBinary) {
      for (const a of this.allMedia) if (a.sub === sub) this.allMedia.delete(a);
      for (const s of sub.sessions) {
        const set = this.mediaBySession.get(s);
        if (!set) continue;
        for (const a of set) if (a.sub === sub) set.delete(a);
        if (set.size === 0) this.mediaBySession.delete(s);
      }
      this.scheduleMediaSync();
    }
  }

  /** Active sessions are watched while an `all` text subscription holds or awaits them. */
  private syncWatching(): void {
    this.activeSessions.setWatching(this.allTextSubs.size > 0 || this.pendingAllText > 0);
  }

  private closeCursor(sub: Subscription, cursor: TextCursor): void {
    cursor.cancel();
    this.cursorsBySub.get(sub)?.delete(cursor.sessionId);
    const set = this.cursorsBySession.get(cursor.sessionId);
    if (!set) return;
    set.delete(cursor);
    if (set.size === 0) {
      this.cursorsBySession.delete(cursor.sessionId);
      this.reader.untrack(cursor.sessionId);
    }
  }

  /** Registry and pub/sub follow the media subscriptions, once per event-loop turn however many changed. */
  private scheduleMediaSync(): void {
    if (this.mediaSyncScheduled) return;
    this.mediaSyncScheduled = true;
    setImmediate(() => {
      this.mediaSyncScheduled = false;
      const wanted = new Map<string, LiveBinaryMedia[]>();
      for (const [session, targets] of this.mediaBySession) wanted.set(session, unionOfMedia(targets));
      if (this.allMedia.size > 0) wanted.set(ALL_SESSIONS, unionOfMedia(this.allMedia));
      void this.registry.want(wanted);
      void this.mediaSubscriber.want(new Set(this.mediaBySession.keys()), this.allMedia.size > 0);
    });
  }
}

function unionOfMedia(targets: Iterable<Attached>): LiveBinaryMedia[] {
  const media = new Set<LiveBinaryMedia>();
  for (const { sub } of targets) for (const m of sub.binaryMedia) media.add(m);
  return [...media];
}

function setAdd<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}
