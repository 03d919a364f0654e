import { Logger } from '@nestjs/common';
import type { RtmsIngestConfig } from '../../../config/app.config';
import type { StreamSignal } from '../../../common/stream-signals/stream-signals';
import { RtmsEventType, RtmsMessageType, RtmsStreamState, statusCodeName, STOP_REASON_RECEIVER_REQUEST_CLOSE } from '../../../zoom/rtms-enums';
import type { CapturePolicy } from '../../sessions/capture-policy';
import type { MediaTypeName } from '../../sessions/dto/capture-policy.dto';
import { StreamStatus } from '../../sessions/entities/rtms-stream.entity';
import { EventSource } from '../../sessions/entities/session-event.entity';
import type { StreamsService } from '../../sessions/streams.service';
import { checkServerUrls, ServerUrlPolicy } from '../../../zoom/rtms/server-url-policy';
import { RtmsSocket } from '../connection/rtms-socket';
import type { IngestMetrics } from '../ingest-metrics';
import type { StreamMediaPipeline } from '../pipeline/stream-media-pipeline';
import { dataHandshake, eventSubscription, MediaParams, planMediaSockets, signalingHandshake, StreamIdentity } from '../protocol/handshake';
import { MEDIA_MESSAGE_TYPES, MEDIA_TYPE_LABEL, ParseFailure, RtmsMessage, toMediaItem } from '../protocol/rtms-message-parser';
import { RtmsConnectionError, RtmsStatusError, StreamConfigError } from '../protocol/rtms-status';
import { Interruption, Interruptions, ReconnectCause } from './interruptions';
import { ReconnectPolicy } from './reconnect-policy';
import type { StreamEventsRecorder, StreamRef } from './stream-events-recorder';
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
  lease: StreamLease;
  workerId: string;
  /** Called once, after the first successful media handshake of this job. */
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

const LEASE_CHECK_MS = 1000;
const PROBE_TIMEOUT_MS = 2000;
const KEEPALIVE_DB_WRITE_MS = 2000;

/**
 * Runs one RTMS stream for as long as the job holds it: signaling + media handshakes,
 * keep-alives, events, media into its pipeline, and every reconnection case of
 * rtms-protocol.md §4. `run()` resolves with how the stream ended.
 */
export class StreamSession {
  private readonly logger = new Logger(StreamSession.name);
  private readonly interrupts = new Interruptions();
  private readonly reconnect: ReconnectPolicy;
  private signaling: RtmsSocket | null = null;
  private media: RtmsSocket[] = [];
  private mediaServerUrls: Record<string, unknown> = {};
  private serverUrls: string;
  private urlIndex = 0;
  private subscribedOn: RtmsSocket | null = null;
  private firstMediaDone = false;
  private closeRequested = false;
  private mediaConnectedAt = 0;
  private signalingConnectedAt = 0;
  private lastKeepAliveWrite = 0;
  private timers: NodeJS.Timeout[] = [];
  private recordChain: Promise<void> = Promise.resolve();
  private probeWaiter: ((ok: boolean) => void) | null = null;
  private resolveDone!: () => void;
  readonly done: Promise<void> = new Promise((r) => (this.resolveDone = r));

  constructor(
    private readonly init: StreamSessionInit,
    private readonly deps: StreamSessionDeps,
  ) {
    this.serverUrls = init.serverUrls;
    this.reconnect = new ReconnectPolicy(deps.config.reconnectBaseMs, deps.config.reconnectMaxMs);
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

  /** A stream signal from Redis (the webhook side). */
  onSignal(signal: StreamSignal): void {
    switch (signal.type) {
      case 'stopped':
        return this.interrupt({ kind: 'stop', stopReason: signal.stopReason ?? null, via: 'webhook' });
      case 'failover':
        if (signal.serverUrls && signal.serverUrls !== this.serverUrls) {
          this.interrupt({ kind: 'full', cause: 'failover', detail: 'new rtms_started with new server_urls', serverUrls: signal.serverUrls });
        }
        return;
      case 'interrupted':
        void this.checkInterrupted();
        return;
      case 'close':
        return this.requestClose();
    }
  }

  async run(): Promise<StreamOutcome> {
    this.deps.metrics.activeStreams.inc();
    this.timers.push(setInterval(() => void this.checkLease(), LEASE_CHECK_MS));
    const kaTick = Math.max(50, Math.min(1000, Math.floor(this.deps.config.keepAliveTimeoutMs / 4)));
    this.timers.push(setInterval(() => this.checkKeepAlive(), kaTick));
    try {
      await this.deps.streams.updateRuntime(this.init.rtmsStreamId, { status: StreamStatus.Connecting, ownerWorkerId: this.deps.workerId });
      if (this.init.takeover) await this.countReconnect('takeover', 'stream job taken over from another worker');
      return await this.loop();
    } finally {
      for (const t of this.timers) clearInterval(t);
      this.closeAll();
      await this.deps.media.close();
      await this.recordChain;
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
        if (mode === 'full') await this.connectSignaling();
        await this.connectMedia();
        this.reconnect.reset();
        await this.deps.streams.updateRuntime(this.init.rtmsStreamId, { status: StreamStatus.Active, connectedAt: new Date(), ownerWorkerId: this.deps.workerId });
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
      if (mode === 'media' && !this.signaling?.open) mode = 'full';
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
    if (i.kind === 'full' && i.serverUrls) {
      this.serverUrls = i.serverUrls;
      this.urlIndex = 0;
    }
    this.logger.warn(`Stream ${this.rtmsStreamId}: reconnecting ${i.kind === 'full' ? 'signaling + media' : 'media'} (${i.cause}: ${i.detail})`);
    if (i.kind === 'full' || current === 'full') {
      this.closeAll();
      return 'full';
    }
    // Media only: sockets still open stay (split mode); dead ones are replaced.
    const dead = this.media.filter((m) => !m.open);
    for (const m of dead) m.close(1000, 'client reconnecting');
    this.media = this.media.filter((m) => m.open);
    return 'media';
  }

  // ───────────── connecting ─────────────

  private async connectSignaling(): Promise<void> {
    this.closeAll();
    // The webhook side may have stored new URLs (failover) since the job started.
    const row = await this.deps.streams.findByStreamId(this.rtmsStreamId);
    // The row is written before a failover signal is published, so it is never older than the signal.
    if (row && row.serverUrls !== this.serverUrls) {
      this.serverUrls = row.serverUrls;
      this.urlIndex = 0;
    }
    const refusal = checkServerUrls(this.serverUrls, this.deps.urlPolicy);
    if (refusal) throw new StreamConfigError(`server_urls refused by RTMS_ALLOWED_HOSTS policy: ${refusal}`);
    const urls = this.serverUrls.split(',').map((u) => u.trim()).filter(Boolean);
    const url = urls[this.urlIndex++ % urls.length];
    const sock = this.socket('signaling', 'signaling', url);
    this.signaling = sock;
    const resp = await this.shake(sock, signalingHandshake(this.init.identity), RtmsMessageType.SignalingHandshakeResp, {
      onMessage: (m, bytes, at) => this.onSignalingMessage(sock, m, bytes, at),
      onInvalid: (reason, bytes) => this.onInvalid('signaling', reason, bytes),
      onClose: (code, reason) => {
        if (this.signaling !== sock) return;
        if (this.closeRequested) this.interrupt({ kind: 'stop', stopReason: STOP_REASON_RECEIVER_REQUEST_CLOSE, via: 'close_request' });
        else this.interrupt({ kind: 'full', cause: 'socket_closed', detail: `signaling closed (${code}${reason ? ` ${reason}` : ''})` });
      },
    });
    const server = (resp.media_server ?? {}) as Record<string, unknown>;
    this.mediaServerUrls = (typeof server.server_urls === 'object' && server.server_urls !== null ? server.server_urls : {}) as Record<string, unknown>;
    this.signalingConnectedAt = Date.now();
    this.subscribedOn = null;
  }

  /**
   * Opens the media sockets the plan needs. Sockets still open (split mode: the types
   * that were not interrupted) are kept; only missing ones are handshaken again.
   */
  private async connectMedia(): Promise<void> {
    const signaling = this.signaling;
    if (!signaling?.open) throw new RtmsConnectionError('signaling', 'not connected');
    const plan = planMediaSockets(this.mediaServerUrls, this.init.mediaTypes, this.deps.config.mediaSocketMode);
    if (plan.unavailable.length > 0) {
      this.logger.warn(`Stream ${this.rtmsStreamId}: no media URL offered for ${plan.unavailable.join(', ')} (no scope?); not requested`);
    }
    if (plan.sockets.length === 0) throw new StreamConfigError(`the media server offered no URL for any requested media type (${this.init.mediaTypes.join(', ')})`);
    for (const p of plan.sockets) {
      const refusal = checkServerUrls(p.url, this.deps.urlPolicy);
      if (refusal) throw new StreamConfigError(`media server URL refused by RTMS_ALLOWED_HOSTS policy: ${refusal}`);
    }
    const keep = this.media.filter((s) => s.open && plan.sockets.some((p) => p.key === s.label));
    for (const s of this.media) if (!keep.includes(s)) s.close(1000, 'client reconnecting');
    const missing = plan.sockets.filter((p) => !keep.some((s) => s.label === p.key));
    const fresh = missing.map((p) => ({ p, sock: this.socket('media', p.key, p.url) }));
    this.media = [...keep, ...fresh.map((f) => f.sock)];
    const results = await Promise.allSettled(
      fresh.map(async ({ p, sock }) => {
        await this.shake(sock, dataHandshake(this.init.identity, p.types, this.init.mediaParams), RtmsMessageType.DataHandshakeResp, {
          onMessage: (m, bytes, at) => this.onMediaMessage(m, bytes, at),
          onInvalid: (reason, bytes) => this.onInvalid('media', reason, bytes),
          onClose: (code, reason) => {
            if (!this.media.includes(sock)) return;
            this.interrupt({ kind: 'media', cause: 'socket_closed', detail: `media ${p.key} closed (${code}${reason ? ` ${reason}` : ''})` });
          },
        });
        // One CLIENT_READY_ACK per successful media handshake, on signaling.
        signaling.send({ msg_type: RtmsMessageType.ClientReadyAck, rtms_stream_id: this.rtmsStreamId });
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const f of fresh) f.sock.close(1000, 'client reconnecting');
      this.media = this.media.filter((s) => !fresh.some((f) => f.sock === s));
      throw failed.reason;
    }
    if (fresh.length > 0) this.mediaConnectedAt = Date.now();
    if (this.subscribedOn !== signaling) {
      signaling.send(eventSubscription());
      this.subscribedOn = signaling;
    }
    if (!this.firstMediaDone) {
      this.firstMediaDone = true;
      await this.deps.onFirstMediaHandshake().catch((err: unknown) => this.logger.error(`Stream ${this.rtmsStreamId}: after-handshake hook failed: ${String(err)}`));
    }
  }

  private socket(kind: 'signaling' | 'media', label: string, url: string): RtmsSocket {
    return new RtmsSocket({
      kind,
      label,
      url,
      handshakeTimeoutMs: this.deps.config.handshakeTimeoutMs,
      maxMessageBytes: this.deps.config.maxMessageBytes,
      keepAlive: {
        answered: (socket, latencyMs) => {
          this.deps.metrics.keepAliveReply.observe({ socket }, latencyMs / 1000);
          this.deps.metrics.keepAlives.inc({ socket });
          if (socket === 'signaling') this.keepAliveSeen();
        },
      },
    });
  }

  private async shake(sock: RtmsSocket, req: Record<string, unknown>, resp: RtmsMessageType, handlers: Parameters<RtmsSocket['handshake']>[2]): Promise<RtmsMessage> {
    const kind = resp === RtmsMessageType.SignalingHandshakeResp ? 'signaling' : 'media';
    try {
      const msg = await sock.handshake(req, resp, handlers);
      this.deps.metrics.handshakes.inc({ socket: kind, result: 'ok' });
      return msg;
    } catch (err) {
      if (err instanceof RtmsStatusError) {
        this.deps.metrics.handshakes.inc({ socket: kind, result: statusCodeName(err.statusCode) });
        this.logger.warn(`Stream ${this.rtmsStreamId}: ${err.message} [${err.statusClass}]`);
        this.record('rtms.handshake_refused', { socket: kind, path: sock.label, status_code: err.statusCode, status_name: err.statusName, reason: err.reason.slice(0, 500), class: err.statusClass });
      } else {
        this.deps.metrics.handshakes.inc({ socket: kind, result: 'connection_error' });
      }
      throw err;
    }
  }

  // ───────────── messages ─────────────

  private onSignalingMessage(sock: RtmsSocket, m: RtmsMessage, _bytes: number, _at: number): void {
    switch (m.msg_type) {
      case RtmsMessageType.EventUpdate: {
        const ev = (m.event ?? {}) as Record<string, unknown>;
        if (ev.event_type === RtmsEventType.MediaConnectionInterrupted) this.mediaInterrupted('event 7 MEDIA_CONNECTION_INTERRUPTED');
        this.chainRecord(() => this.deps.recorder.event(this.ref, m));
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
        this.chainRecord(() => this.deps.recorder.streamState(this.ref, m));
        return;
      }
      case RtmsMessageType.SessionStateUpdate:
        this.chainRecord(() => this.deps.recorder.sessionState(this.ref, m));
        return;
      case RtmsMessageType.StreamStateResp:
        if (sock === this.signaling && this.probeWaiter) {
          const w = this.probeWaiter;
          this.probeWaiter = null;
          w(true);
        }
        return;
      case RtmsMessageType.StreamCloseResp:
        this.record('rtms.stream_close_response', { status_code: m.status_code ?? null, reason: m.reason ?? null });
        return;
      default:
        if (MEDIA_MESSAGE_TYPES.has(m.msg_type)) this.onMediaMessage(m, _bytes, _at);
        else this.logger.debug(`Stream ${this.rtmsStreamId}: ignoring signaling msg_type ${m.msg_type}`);
    }
  }

  private onMediaMessage(m: RtmsMessage, bytes: number, receivedAt: number): void {
    if (!MEDIA_MESSAGE_TYPES.has(m.msg_type)) {
      this.onInvalid('media', 'unexpected_msg_type', bytes, m.msg_type);
      return;
    }
    const label = MEDIA_TYPE_LABEL[m.msg_type];
    const parsed = toMediaItem(m, receivedAt);
    if (!parsed.ok) {
      this.onInvalid('media', parsed.reason, bytes, m.msg_type);
      return;
    }
    if (parsed.lengthMismatch) this.deps.metrics.invalid.inc({ reason: 'length_mismatch_kept' });
    this.deps.metrics.messages.inc({ media_type: label });
    this.deps.metrics.bytes.inc({ media_type: label }, bytes);
    const before = this.deps.media.stats.filtered;
    this.deps.media.add(parsed.item, parsed.bytes);
    if (this.deps.media.stats.filtered !== before) this.deps.metrics.filtered.inc({ media_type: label });
  }

  private invalidLogged = new Map<string, number>();

  private onInvalid(socket: 'signaling' | 'media', reason: ParseFailure | string, bytes: number, msgType?: number): void {
    this.deps.metrics.invalid.inc({ reason });
    // Log the first of each kind per stream, then every 100th, so a flood cannot drown the log.
    const n = (this.invalidLogged.get(reason) ?? 0) + 1;
    this.invalidLogged.set(reason, n);
    if (n === 1 || n % 100 === 0) {
      this.logger.warn(`Stream ${this.rtmsStreamId}: dropped a malformed ${socket} message (${reason}, ${bytes} bytes${msgType !== undefined ? `, msg_type ${msgType}` : ''}; ${n} so far)`);
    }
  }

  private mediaInterrupted(detail: string): void {
    // A notice about the connection we just replaced is stale.
    if (this.media.length > 0 && this.media.every((s) => s.open) && Date.now() - this.mediaConnectedAt < 1000) return;
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
    const sock = this.signaling;
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
    if (alive && this.signaling === sock) {
      this.record('stream.interrupted_webhook_stale', { note: 'current signaling connection answered STREAM_STATE_REQ' });
      // The webhook side marked the row interrupted; the stream is in fact live.
      await this.deps.streams.updateRuntime(this.rtmsStreamId, { status: StreamStatus.Active }).catch(() => undefined);
      return;
    }
    this.interrupt({ kind: 'full', cause: 'signaling_interrupted', detail: 'rtms_interrupted webhook' });
  }

  private requestClose(): void {
    this.closeRequested = true;
    this.sendCloseRequest();
  }

  private sendCloseRequest(): void {
    if (this.signaling?.send({ msg_type: RtmsMessageType.StreamCloseReq, rtms_stream_id: this.rtmsStreamId })) {
      this.record('rtms.stream_close_requested', {});
    }
  }

  private checkKeepAlive(): void {
    const sock = this.signaling;
    if (!sock?.open || this.signalingConnectedAt === 0) return;
    const last = Math.max(sock.keepAlive.lastRequestAt ?? 0, this.signalingConnectedAt);
    if (Date.now() - last > this.deps.config.keepAliveTimeoutMs) {
      this.signalingConnectedAt = 0; // once per connection
      this.interrupt({ kind: 'full', cause: 'keepalive_timeout', detail: `no keep-alive on signaling for ${this.deps.config.keepAliveTimeoutMs} ms` });
    }
  }

  private keepAliveSeen(): void {
    const now = Date.now();
    if (now - this.lastKeepAliveWrite < KEEPALIVE_DB_WRITE_MS) return;
    this.lastKeepAliveWrite = now;
    this.deps.streams.updateRuntime(this.rtmsStreamId, { lastKeepaliveAt: new Date(now) }).catch(() => undefined);
  }

  private async checkLease(): Promise<void> {
    const held = await this.deps.lease.held();
    if (held === false) {
      this.logger.error(`Stream ${this.rtmsStreamId}: lease lost (another worker owns the job); closing sockets`);
      this.abort('lease_lost');
    }
  }

  // ───────────── ending ─────────────

  private async finish(i: Interruption): Promise<StreamOutcome> {
    this.closeAll();
    if (i.kind === 'abort') {
      if (i.reason === 'shutdown') {
        await this.deps.streams.updateRuntime(this.rtmsStreamId, { status: StreamStatus.Interrupted, ownerWorkerId: null }).catch(() => undefined);
        this.record('stream.handed_over', { worker: this.deps.workerId });
        return { kind: 'handed_over' };
      }
      return { kind: 'lease_lost' };
    }
    if (i.kind === 'stop') {
      await this.deps.streams.markStopped(this.rtmsStreamId, i.stopReason, EventSource.Worker);
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
    await this.recordChain;
    await this.deps.streams.markFailed(this.rtmsStreamId, reason, EventSource.Worker);
    return { kind: 'failed', reason };
  }

  private async countReconnect(cause: ReconnectCause | 'takeover', detail: string): Promise<void> {
    this.deps.metrics.reconnects.inc({ cause });
    this.record('stream.reconnect', { cause, detail, worker: this.deps.workerId });
    await this.deps.streams.countReconnect(this.rtmsStreamId, cause).catch((err: unknown) => this.logger.warn(`countReconnect: ${String(err)}`));
  }

  private record(eventType: string, payload: Record<string, unknown>): void {
    this.chainRecord(() => this.deps.recorder.note(this.ref, eventType, payload));
  }

  /** Records in arrival order (a join is written before the matching leave). */
  private chainRecord(fn: () => Promise<void>): void {
    this.recordChain = this.recordChain.then(fn, fn);
  }

  private closeMedia(): void {
    const media = this.media;
    this.media = [];
    for (const s of media) s.close(1000, 'client reconnecting');
  }

  private closeAll(): void {
    this.closeMedia();
    const sig = this.signaling;
    this.signaling = null;
    sig?.close(1000, 'client closing');
    if (this.probeWaiter) {
      const w = this.probeWaiter;
      this.probeWaiter = null;
      w(false);
    }
  }
}
