import { Logger } from '@nestjs/common';
import type { RtmsIngestConfig } from '../../../config/app.config';
import type { StreamSignal } from '../../../common/stream-signals/stream-signals';
import { errorMessage } from '../../../common/errors/error-message';
import { isRecord } from '../../../common/types/is-record';
import { RtmsEventType, RtmsMessageType, RtmsStreamState, STOP_REASON_RECEIVER_REQUEST_CLOSE } from '../../../zoom/rtms-enums';
import type { CapturePolicy, MediaTypeName, StreamsService } from '../../sessions';
import { isZeroRetention, StreamStatus } from '../../sessions';
import type { ServerUrlPolicy } from '../../../zoom/rtms/server-url-policy';
import type { RtmsSocket } from '../connection/rtms-socket';
import type { IngestMetrics } from '../ingest-metrics';
import type { StreamMediaPipeline } from '../pipeline/stream-media-pipeline';
import type { MediaParams, StreamIdentity } from '../protocol/handshake';
import { MEDIA_MESSAGE_TYPES, RtmsMessage } from '../protocol/rtms-message-parser';
import { RtmsStatusError, StreamConfigError } from '../protocol/rtms-status';
import { CaptureAdmission } from '../capture/capture-admission';
import { Interruption, Interruptions, ReconnectCause } from './interruptions';
import { ReconnectPolicy } from './reconnect-policy';
import { StreamConnections } from './stream-connections';
import { StreamCounters } from './stream-counters';
import { StreamMediaDispatcher } from './stream-media-dispatcher';
import { STREAM_END_FLUSH_MS } from './stream-events-recorder';
import type { StreamEventsRecorder, StreamRef } from './stream-events-recorder';
import { liveEventEntries, liveStreamStateEntry } from './live-signaling-entries';
import type { LiveTextEntry } from '../../live';
import type { StreamLease } from './stream-lease';

export type StreamOutcome =
  | { kind: 'stopped'; stopReason: number | null }
  | { kind: 'failed'; reason: string }
  | { kind: 'handed_over' }
  | { kind: 'lease_lost' };

export interface StreamSessionDeps {
  config: RtmsIngestConfig;
  urlPolicy: ServerUrlPolicy;
  streams: StreamsService;
  recorder: StreamEventsRecorder;
  metrics: IngestMetrics;
  media: StreamMediaPipeline;
  /** The session's live text log: signaling events go there as they arrive, not after their database write. */
  liveText: { append(entry: LiveTextEntry): void };
  lease: StreamLease;
  workerId: string;
  /**
   * Called after the first successful media handshake of this job; when it throws (e.g.
   * Redis refused the job it queues), again after the next successful media handshake.
   */
  onFirstMediaHandshake: () => Promise<void>;
}

export interface StreamSessionInit extends StreamRef {
  identity: StreamIdentity;
  serverUrls: string;
  policy: CapturePolicy;
  mediaTypes: MediaTypeName[];
  mediaParams: MediaParams;
  /** The stream was connected before (by a dead or departing worker). */
  takeover: boolean;
}

const PROBE_TIMEOUT_MS = 2000;
/** How often a stream's received counters are added to its session's row (and once more when it ends). */
export const COUNTS_WRITE_MS = 10_000;
const KEEPALIVE_DB_WRITE_MS = 2000;
/** A hand-over (or a lost lease) waits at most this long for the stream's observations: the next holder must not wait. */
const HANDOVER_FLUSH_MS = 2000;

/**
 * Runs one RTMS stream for as long as the job holds it: when to connect and reconnect
 * (every case of rtms-protocol.md §4), keep-alive and lease watch, events, media into its
 * pipeline, and how the stream ends. `run()` resolves with how it ended. The sockets and
 * their handshakes are StreamConnections' (stream-connections.ts), media parsing and
 * counting StreamMediaDispatcher's.
 */
export class StreamSession {
  private readonly logger = new Logger(StreamSession.name);
  private readonly interrupts = new Interruptions();
  private readonly reconnect: ReconnectPolicy;
  private readonly conn: StreamConnections;
  private readonly dispatcher: StreamMediaDispatcher;
  /** The capture policy's participant rules, applied to live events as to media. */
  private readonly admission: CaptureAdmission;
  /** What the stream received (the session's received_counts). */
  private readonly counters = new StreamCounters();
  /** Zero retention: participants and per-person events are not written (only counted). */
  private readonly storesPeople: boolean;
  private firstMediaDone = false;
  private closeRequested = false;
  /** Zoom accepted our STREAM_CLOSE_REQ (msg 22, status 0): a signaling close from now on is the stop it promised. */
  private closeAccepted = false;
  private lastKeepAliveWrite = 0;
  private timers: NodeJS.Timeout[] = [];
  private probeWaiter: ((ok: boolean) => void) | null = null;
  private resolveDone!: () => void;
  readonly done: Promise<void> = new Promise((r) => (this.resolveDone = r));

  constructor(
    private readonly init: StreamSessionInit,
    private readonly deps: StreamSessionDeps,
  ) {
    this.reconnect = new ReconnectPolicy(deps.config.reconnectBaseMs, deps.config.reconnectMaxMs);
    this.dispatcher = new StreamMediaDispatcher(init.rtmsStreamId, deps.metrics, deps.media, this.counters);
    this.admission = new CaptureAdmission(init.policy);
    this.storesPeople = !isZeroRetention(init.policy);
    this.conn = new StreamConnections(init, deps, {
      onSignalingMessage: (sock, m, bytes, at) => this.onSignalingMessage(sock, m, bytes, at),
      onMediaMessage: (m, bytes, at) => this.dispatcher.onMediaMessage(m, bytes, at),
      onFastMedia: (frame, bytes, at) => this.dispatcher.onParsedMedia(frame, bytes, at),
      onMediaConnecting: (types) => deps.media.mediaReconnecting(types),
      onInvalid: (socket, reason, bytes) => this.dispatcher.onInvalid(socket, reason, bytes),
      onSignalingClosed: (code, reason) => {
        if (this.closeAccepted) this.interrupt({ kind: 'stop', stopReason: STOP_REASON_RECEIVER_REQUEST_CLOSE, via: 'close_request' });
        else this.interrupt({ kind: 'full', cause: 'socket_closed', detail: `signaling closed (${code}${reason ? ` ${reason}` : ''})` });
      },
      onMediaClosed: (key, code, reason) => this.interrupt({ kind: 'media', cause: 'socket_closed', detail: `media ${key} closed (${code}${reason ? ` ${reason}` : ''})` }),
      onSignalingKeepAlive: () => this.keepAliveSeen(),
      stopping: () => this.interrupts.terminal() !== null,
      record: (eventType, payload) => this.record(eventType, payload),
    });
  }

  get rtmsStreamId(): string {
    return this.init.rtmsStreamId;
  }

  private get ref(): StreamRef {
    return { sessionId: this.init.sessionId, rtmsStreamId: this.init.rtmsStreamId };
  }

  abort(reason: 'shutdown' | 'lease_lost'): void {
    this.interrupt({ kind: 'abort', reason });
  }

  /** BullMQ renewed the job lock with a request sent at `sentAt` (monotonic ms). */
  leaseRenewed(sentAt: number): void {
    this.deps.lease.renewed(sentAt);
  }

  /** A stream signal from Redis (the webhook side). */
  onSignal(signal: StreamSignal): void {
    switch (signal.type) {
      case 'stopped':
        return this.interrupt({ kind: 'stop', stopReason: signal.stopReason ?? null, via: 'webhook' });
      case 'failover':
        if (signal.serverUrls && signal.serverUrls !== this.conn.serverUrls) {
          this.interrupt({ kind: 'full', cause: 'failover', detail: 'new rtms_started with new server_urls', serverUrls: signal.serverUrls });
        }
        return;
      case 'interrupted':
        void this.checkInterrupted();
        return;
      case 'close':
        return this.requestClose();
      case 'erase_users':
        // The stream's audio spool handle takes these (stream-runner.service.ts).
        return;
    }
  }

  async run(): Promise<StreamOutcome> {
    this.deps.metrics.activeStreams.inc();
    let outcome: StreamOutcome | undefined;
    this.deps.lease.watch(() => {
      this.logger.error(`Stream ${this.rtmsStreamId}: lease not renewed in time (it could expire and be taken over); closing sockets`);
      this.abort('lease_lost');
    });
    const kaTick = Math.max(50, Math.min(1000, Math.floor(this.deps.config.keepAliveTimeoutMs / 4)));
    let lastTick = Date.now();
    this.timers.push(
      setInterval(() => {
        // After a stall of this process (GC, a long synchronous task), timers run before
        // the socket reads that waited meanwhile: what looks like silence may be data not
        // read yet. That tick only waits; the next one, after the reads, judges.
        const now = Date.now();
        const stalled = now - lastTick > 2 * kaTick;
        lastTick = now;
        if (!stalled) this.checkKeepAlive();
      }, kaTick),
    );
    this.timers.push(setInterval(() => this.writeCounts(), COUNTS_WRITE_MS));
    try {
      this.deps.recorder.runtime(this.ref, { status: StreamStatus.Connecting, ownerWorkerId: this.deps.workerId }, this.deps.workerId);
      if (this.init.takeover) await this.countReconnect('takeover', 'stream job taken over from another worker');
      outcome = await this.loop();
      return outcome;
    } finally {
      for (const t of this.timers) clearInterval(t);
      this.deps.lease.stop();
      this.closeAll();
      this.writeCounts();
      await this.deps.media.close();
      // What the stream observed is written before its job ends (Postgres may be down: bounded wait, the process keeps retrying the rest).
      const ended = outcome?.kind === 'stopped' || outcome?.kind === 'failed';
      if (!(await this.deps.recorder.settled(this.rtmsStreamId, ended ? STREAM_END_FLUSH_MS : HANDOVER_FLUSH_MS))) {
        this.logger.warn(`Stream ${this.rtmsStreamId}: job ends with observations still waiting for Postgres (retried by this process)`);
      }
      this.deps.metrics.activeStreams.dec();
      this.resolveDone();
    }
  }

  private async loop(): Promise<StreamOutcome> {
    let mode: 'full' | 'media' = 'full';
    for (;;) {
      const terminal = this.interrupts.terminal();
      if (terminal) return this.finish(this.interrupts.take()!);
      let lastError: Error;
      try {
        if (mode === 'full') {
          this.closeAll();
          await this.conn.connectSignaling();
        }
        await this.conn.connectMedia();
        await this.afterMediaConnected();
        this.reconnect.reset();
        this.deps.recorder.runtime(this.ref, { status: StreamStatus.Active, connectedAt: new Date(), ownerWorkerId: this.deps.workerId }, this.deps.workerId);
        if (this.closeRequested) this.sendCloseRequest();
        const next = await this.interrupts.next();
        if (next.kind === 'abort' || next.kind === 'stop') return this.finish(next);
        // Connected: only what the interruption names is redone.
        mode = this.prepareReconnect(next, 'media');
        await this.countReconnect(next.cause, next.detail);
        continue;
      } catch (err) {
        lastError = err instanceof Error ? err : new Error(String(err));
      }
      if (this.interrupts.terminal()) continue;
      if (lastError instanceof StreamConfigError || (lastError instanceof RtmsStatusError && lastError.permanent)) {
        return this.fail(lastError.message, lastError);
      }
      if (mode === 'media' && !this.conn.signaling?.open) mode = 'full';
      const windowMs = mode === 'full' ? this.deps.config.signalingReconnectWindowMs : this.deps.config.mediaReconnectWindowMs;
      const delay = this.reconnect.nextDelay(windowMs);
      if (delay === null) {
        return this.fail(`${mode === 'full' ? 'signaling' : 'media'} reconnect window (${windowMs} ms) exhausted after ${this.reconnect.attempts} attempt(s); last error: ${lastError.message}`, lastError);
      }
      this.logger.warn(`Stream ${this.rtmsStreamId}: ${lastError.message}; retrying ${mode === 'full' ? 'signaling + media' : 'media'} in ${delay} ms`);
      const early = await this.interrupts.sleep(delay);
      if (early) {
        if (early.kind === 'abort' || early.kind === 'stop') return this.finish(early);
        mode = this.prepareReconnect(early, mode);
        await this.countReconnect(early.cause, early.detail);
      }
    }
  }

  /** Closes what must be redone; returns the reconnect mode. */
  private prepareReconnect(i: Extract<Interruption, { kind: 'full' | 'media' }>, current: 'full' | 'media'): 'full' | 'media' {
    this.reconnect.begin();
    if (i.kind === 'full' && i.serverUrls) this.conn.useServerUrls(i.serverUrls);
    this.logger.warn(`Stream ${this.rtmsStreamId}: reconnecting ${i.kind === 'full' ? 'signaling + media' : 'media'} (${i.cause}: ${i.detail})`);
    if (i.kind === 'full' || current === 'full') {
      this.closeAll();
      return 'full';
    }
    // Media only. Zoom lost it: every media socket is replaced (ours may look open: a
    // half-open link). One of ours closed: the others stay (split mode), dead ones go.
    if (i.cause === 'media_interrupted') this.conn.closeMedia();
    else this.conn.dropDeadMedia();
    return 'media';
  }

  /** Once per job, after the first successful media handshake; a hook that failed runs again after the next one. */
  private async afterMediaConnected(): Promise<void> {
    if (this.firstMediaDone) return;
    this.firstMediaDone = true;
    try {
      await this.deps.onFirstMediaHandshake();
    } catch (err) {
      this.firstMediaDone = false;
      this.logger.error(`Stream ${this.rtmsStreamId}: after-handshake hook failed (run again after the next media handshake): ${errorMessage(err)}`);
    }
  }

  // ───────────── messages ─────────────

  private onSignalingMessage(sock: RtmsSocket, m: RtmsMessage, bytes: number, at: number): void {
    switch (m.msg_type) {
      case RtmsMessageType.EventUpdate: {
        const ev = isRecord(m.event) ? m.event : {};
        if (ev.event_type === RtmsEventType.MediaConnectionInterrupted) this.mediaInterrupted('event 7 MEDIA_CONNECTION_INTERRUPTED');
        for (const entry of liveEventEntries(this.init.sessionId, m, at)) if (this.admission.admitsParticipant(entry.data.user_id)) this.deps.liveText.append(entry);
        this.countEvent(ev);
        this.chainRecord(() => this.deps.recorder.event(this.ref, m, this.storesPeople));
        return;
      }
      case RtmsMessageType.StreamStateUpdate: {
        const state = m.state;
        if (state === RtmsStreamState.Terminated) {
          const reason = typeof m.reason === 'number' ? m.reason : null;
          this.interrupt({ kind: 'stop', stopReason: reason, via: 'stream_state' });
        } else if (state === RtmsStreamState.Interrupted) {
          this.mediaInterrupted(`stream state INTERRUPTED (reason ${String(m.reason)})`);
        }
        this.deps.liveText.append(liveStreamStateEntry(this.init.sessionId, m, at));
        this.chainRecord(() => this.deps.recorder.streamState(this.ref, m));
        return;
      }
      case RtmsMessageType.SessionStateUpdate:
        this.chainRecord(() => this.deps.recorder.sessionState(this.ref, m));
        return;
      case RtmsMessageType.StreamStateResp:
        if (sock === this.conn.signaling && this.probeWaiter) {
          const w = this.probeWaiter;
          this.probeWaiter = null;
          w(true);
        }
        return;
      case RtmsMessageType.StreamCloseResp:
        this.record('rtms.stream_close_response', { status_code: m.status_code ?? null, reason: m.reason ?? null });
        if (m.status_code === 0) this.closeAccepted = true;
        else if (this.closeRequested) {
          // Refused: Zoom still holds the stream, so a later drop of signaling is not the stop we
          // asked for (it reconnects as usual); the request is not repeated on reconnects either.
          this.closeRequested = false;
          this.logger.warn(`Stream ${this.rtmsStreamId}: Zoom refused the close request (status ${String(m.status_code)}${m.reason ? `, ${String(m.reason)}` : ''}); the stream goes on`);
        }
        return;
      default:
        if (MEDIA_MESSAGE_TYPES.has(m.msg_type)) this.dispatcher.onMediaMessage(m, bytes, at);
        else this.logger.debug(`Stream ${this.rtmsStreamId}: ignoring signaling msg_type ${m.msg_type}`);
    }
  }

  private countEvent(ev: Record<string, unknown>): void {
    this.counters.event();
    if (ev.event_type !== RtmsEventType.ParticipantJoin || !Array.isArray(ev.participants)) return;
    for (const p of ev.participants as unknown[]) {
      const id = isRecord(p) ? p.user_id : undefined;
      if (typeof id === 'number' || (typeof id === 'string' && id.length > 0 && id.length <= 128)) this.counters.participant(String(id));
    }
  }

  /** Hands what was counted since the last write to the recorder (in order with the stream's other observations). */
  private writeCounts(): void {
    const delta = this.counters.take();
    if (delta) this.deps.recorder.counts(this.ref, delta);
  }

  private mediaInterrupted(detail: string): void {
    // A notice about the connection we just replaced is stale.
    if (this.conn.mediaConnectedWithin(1000)) return;
    this.interrupt({ kind: 'media', cause: 'media_interrupted', detail });
  }

  // ───────────── signals, keep-alive, lease ─────────────

  private interrupt(i: Interruption): void {
    this.interrupts.push(i);
    // Terminal: close now so in-flight handshakes end at once.
    if (i.kind === 'abort' || i.kind === 'stop') this.closeAll();
  }

  /**
   * rtms_interrupted: Zoom lost our signaling connection. If the current connection
   * still answers STREAM_STATE_REQ (19 → 20), the webhook is about a connection already
   * replaced; otherwise redo signaling and media.
   */
  private async checkInterrupted(): Promise<void> {
    const sock = this.conn.signaling;
    if (!sock?.open) {
      // Our socket already closed, so the loop is already redoing signaling and media;
      // a second redo would only cost Zoom another handshake.
      this.record('stream.interrupted_webhook_during_reconnect', { note: 'reconnect already under way' });
      return;
    }
    const alive = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        this.probeWaiter = null;
        resolve(false);
      }, PROBE_TIMEOUT_MS);
      this.probeWaiter = (ok) => {
        clearTimeout(t);
        resolve(ok);
      };
      if (!sock.send({ msg_type: RtmsMessageType.StreamStateReq, rtms_stream_id: this.rtmsStreamId })) {
        clearTimeout(t);
        this.probeWaiter = null;
        resolve(false);
      }
    });
    if (alive && this.conn.signaling === sock) {
      this.record('stream.interrupted_webhook_stale', { note: 'current signaling connection answered STREAM_STATE_REQ' });
      // The webhook side marked the row interrupted; the stream is in fact live.
      this.deps.recorder.runtime(this.ref, { status: StreamStatus.Active, ownerWorkerId: this.deps.workerId }, this.deps.workerId);
      return;
    }
    this.interrupt({ kind: 'full', cause: 'signaling_interrupted', detail: 'rtms_interrupted webhook' });
  }

  private requestClose(): void {
    this.closeRequested = true;
    this.sendCloseRequest();
  }

  private sendCloseRequest(): void {
    if (this.conn.signaling?.send({ msg_type: RtmsMessageType.StreamCloseReq, rtms_stream_id: this.rtmsStreamId })) {
      this.record('rtms.stream_close_requested', {});
    }
  }

  private checkKeepAlive(): void {
    if (this.conn.keepAliveOverdue(this.deps.config.keepAliveTimeoutMs)) {
      this.interrupt({ kind: 'full', cause: 'keepalive_timeout', detail: `no keep-alive on signaling for ${this.deps.config.keepAliveTimeoutMs} ms` });
      return;
    }
    const silent = this.conn.closeSilentMedia(this.deps.config.keepAliveTimeoutMs);
    if (silent.length > 0) {
      this.interrupt({ kind: 'media', cause: 'media_keepalive_timeout', detail: `nothing received on media (${silent.join(', ')}) for ${this.deps.config.keepAliveTimeoutMs} ms` });
    }
  }

  private keepAliveSeen(): void {
    const now = Date.now();
    if (now - this.lastKeepAliveWrite < KEEPALIVE_DB_WRITE_MS) return;
    this.lastKeepAliveWrite = now;
    this.deps.recorder.runtime(this.ref, { lastKeepaliveAt: new Date(now) }, this.deps.workerId);
  }

  // ───────────── ending ─────────────

  private async finish(i: Interruption): Promise<StreamOutcome> {
    const closed = this.closeAll();
    // Media sent before the stop (or before our hand-over) is read to the end, not dropped
    // with the socket. Not after a lost lease: another worker may already hold the stream.
    if (i.kind === 'stop' || (i.kind === 'abort' && i.reason === 'shutdown')) await closed;
    if (i.kind === 'abort') {
      if (i.reason === 'shutdown') {
        this.deps.recorder.runtime(this.ref, { status: StreamStatus.Interrupted, ownerWorkerId: null }, this.deps.workerId);
        this.record('stream.handed_over', { worker: this.deps.workerId });
        return { kind: 'handed_over' };
      }
      return { kind: 'lease_lost' };
    }
    if (i.kind === 'stop') {
      // The counts are final before the session is: whoever sees it stopped sees them whole.
      this.writeCounts();
      this.deps.recorder.ended(this.ref, { kind: 'stopped', stopReason: i.stopReason });
      this.logger.log(`Stream ${this.rtmsStreamId}: stopped (${i.via}, reason ${String(i.stopReason)})`);
      return { kind: 'stopped', stopReason: i.stopReason };
    }
    throw new Error(`unexpected final interruption ${i.kind}`);
  }

  private async fail(reason: string, err: Error): Promise<StreamOutcome> {
    this.closeAll();
    this.logger.error(`Stream ${this.rtmsStreamId}: failed: ${reason}`);
    const details: Record<string, unknown> = { reason };
    if (err instanceof RtmsStatusError) Object.assign(details, { status_code: err.statusCode, status_name: err.statusName });
    this.record('stream.failed', details);
    this.writeCounts();
    this.deps.recorder.ended(this.ref, { kind: 'failed', reason });
    return { kind: 'failed', reason };
  }

  private async countReconnect(cause: ReconnectCause | 'takeover', detail: string): Promise<void> {
    this.deps.metrics.reconnects.inc({ cause });
    this.record('stream.reconnect', { cause, detail, worker: this.deps.workerId });
    this.deps.recorder.reconnect(this.ref, cause);
  }

  private record(eventType: string, payload: Record<string, unknown>): void {
    this.chainRecord(() => this.deps.recorder.note(this.ref, eventType, payload));
  }

  /**
   * Records in arrival order (a join is written before the matching leave): the recorder
   * queues each call behind the stream's earlier ones at once, and writes them in order.
   */
  private chainRecord(fn: () => Promise<void>): void {
    fn().catch((err: unknown) => this.logger.error(`Stream ${this.rtmsStreamId}: could not queue an observation: ${errorMessage(err)}`));
  }

  /** Closes every socket, and answers a pending liveness probe: not alive. */
  private closeAll(): Promise<void> {
    const closed = this.conn.closeAll();
    if (this.probeWaiter) {
      const w = this.probeWaiter;
      this.probeWaiter = null;
      w(false);
    }
    return closed;
  }
}
