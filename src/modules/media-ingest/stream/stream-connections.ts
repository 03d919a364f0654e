import { Logger } from '@nestjs/common';
import type { RtmsIngestConfig } from '../../../config/app.config';
import { withTimeout } from '../../../common/async/with-timeout';
import { errorMessage } from '../../../common/errors/error-message';
import { isRecord } from '../../../common/types/is-record';
import { RtmsMessageType, statusCodeName } from '../../../zoom/rtms-enums';
import type { MediaTypeName, StreamsService } from '../../sessions';
import { checkServerUrls, ServerUrlPolicy } from '../../../zoom/rtms/server-url-policy';
import { RtmsSocket } from '../connection/rtms-socket';
import type { IngestMetrics } from '../ingest-metrics';
import { dataHandshake, eventSubscription, MediaParams, planMediaSockets, signalingHandshake, StreamIdentity } from '../protocol/handshake';
import type { FastMediaFrame } from '../protocol/media-frame-fast-path';
import type { ParseFailure, RtmsMessage } from '../protocol/rtms-message-parser';
import { RtmsConnectionError, RtmsStatusError, StreamConfigError } from '../protocol/rtms-status';

/** What the connections report to their StreamSession. */
export interface StreamConnectionEvents {
  onSignalingMessage(sock: RtmsSocket, m: RtmsMessage, bytes: number, receivedAt: number): void;
  onMediaMessage(m: RtmsMessage, bytes: number, receivedAt: number): void;
  /** An audio, video or share message read by the media socket's fast path. */
  onFastMedia(frame: FastMediaFrame, bytes: number, receivedAt: number): void;
  /** New media sockets for these types are about to be handshaken (the old ones, if any, are closed). */
  onMediaConnecting(types: MediaTypeName[]): void;
  onInvalid(socket: 'signaling' | 'media', reason: ParseFailure, bytes: number): void;
  /** The current signaling socket closed, not by us. */
  onSignalingClosed(code: number, reason: string): void;
  /** A current media socket closed, not by us. */
  onMediaClosed(key: string, code: number, reason: string): void;
  /** Zoom sent a keep-alive on signaling (and it was answered). */
  onSignalingKeepAlive(): void;
  /**
   * The stream is ending (stopped, lease lost, shutdown): no socket may be opened any more.
   * Asked after each wait before a socket opens — an abort that came while the server URLs
   * were read found nothing to close yet.
   */
  stopping?(): boolean;
  record(eventType: string, payload: Record<string, unknown>): void;
}

export interface StreamConnectionsInit {
  rtmsStreamId: string;
  identity: StreamIdentity;
  serverUrls: string;
  mediaTypes: MediaTypeName[];
  mediaParams: MediaParams;
}

export interface StreamConnectionsDeps {
  config: RtmsIngestConfig;
  urlPolicy: ServerUrlPolicy;
  streams: Pick<StreamsService, 'findByStreamId'>;
  metrics: IngestMetrics;
}

/**
 * How long a signaling (re)connection waits for the stream row's server URLs before it
 * dials the URLs it already has. Postgres may be failing over while Zoom still accepts
 * the stream: the reconnect must not wait for, or fail on, the database.
 */
export const SERVER_URLS_READ_TIMEOUT_MS = 1000;

/**
 * The type a refused media handshake names (9–13: no scope), when that socket asked for
 * it. Only such a refusal drops a type: each round of connectMedia then drops a new one,
 * so it ends; anything else fails the round as any failure does.
 */
function refusedType(err: unknown, asked: readonly MediaTypeName[]): MediaTypeName | undefined {
  return err instanceof RtmsStatusError && err.mediaType && asked.includes(err.mediaType) ? err.mediaType : undefined;
}

/** 15 MEDIA_DATA_ALL_CONNECTION_EXIST / 16 DUPLICATE_MEDIA_DATA_CONNECTION on a media handshake. */
function isConnectionConflict(err: unknown): err is RtmsStatusError {
  return err instanceof RtmsStatusError && err.socket === 'media' && (err.statusCode === 15 || err.statusCode === 16);
}

/**
 * A stream's sockets: the signaling connection and the media sockets, their handshakes
 * (rtms-protocol.md §2–3), which server URL is tried next, and what is kept across a
 * media-only reconnection. When to (re)connect is StreamSession's call.
 */
export class StreamConnections {
  private readonly logger = new Logger(StreamConnections.name);
  private signalingSock: RtmsSocket | null = null;
  private media: RtmsSocket[] = [];
  /** Media sockets we closed whose close has not completed (closeAll waits for them). */
  private mediaClosing: Promise<void>[] = [];
  private mediaServerUrls: Record<string, unknown> = {};
  private urls: string;
  private urlIndex = 0;
  private subscribedOn: RtmsSocket | null = null;
  private mediaConnectedAt = 0;
  private signalingConnectedAt = 0;
  /** The last read of the stream row's server URLs failed (logged once until one succeeds). */
  private urlsReadFailing = false;
  /** Types the media server refused (9–13: no scope; or split mode refusing `all` beside per-type sockets): never asked for again by this stream. */
  private readonly refusedTypes = new Set<MediaTypeName>();
  /** The types without a media URL last warned about. */
  private unavailableWarned = '';
  /**
   * Split mode: Zoom once accepted an `all` socket (share screen, chat: types msg 2 gives
   * no URL of their own) beside the per-type sockets. Nothing documents that it does; until
   * it has, a 15/16 refusal in such a round is taken to mean it does not (see connectMediaOnce).
   */
  private allBesideTypedAccepted = false;

  constructor(
    private readonly init: StreamConnectionsInit,
    private readonly deps: StreamConnectionsDeps,
    private readonly events: StreamConnectionEvents,
  ) {
    this.urls = init.serverUrls;
  }

  private get rtmsStreamId(): string {
    return this.init.rtmsStreamId;
  }

  /** The signaling socket of the current connection, if any. */
  get signaling(): RtmsSocket | null {
    return this.signalingSock;
  }

  /** The server URLs connections go to (the job's, or newer ones after a failover). */
  get serverUrls(): string {
    return this.urls;
  }

  /** Failover: the next signaling connection starts at the first of these URLs. */
  useServerUrls(serverUrls: string): void {
    this.urls = serverUrls;
    this.urlIndex = 0;
  }

  async connectSignaling(): Promise<void> {
    this.closeAll();
    await this.refreshServerUrls();
    if (this.events.stopping?.()) throw new RtmsConnectionError('signaling', 'not connecting: the stream is ending');
    const refusal = checkServerUrls(this.urls, this.deps.urlPolicy);
    if (refusal) throw new StreamConfigError(`server_urls refused by RTMS_ALLOWED_HOSTS policy: ${refusal}`);
    const urls = this.urls.split(',').map((u) => u.trim()).filter(Boolean);
    const url = urls[this.urlIndex++ % urls.length];
    const sock = this.socket('signaling', 'signaling', url);
    this.signalingSock = sock;
    const resp = await this.shake(sock, signalingHandshake(this.init.identity), RtmsMessageType.SignalingHandshakeResp, {
      onMessage: (m, bytes, at) => this.events.onSignalingMessage(sock, m, bytes, at),
      onInvalid: (reason, bytes) => this.events.onInvalid('signaling', reason, bytes),
      onClose: (code, reason) => {
        this.countOversize('signaling', code);
        if (this.signalingSock === sock) this.events.onSignalingClosed(code, reason);
      },
    });
    const server = isRecord(resp.media_server) ? resp.media_server : {};
    this.mediaServerUrls = isRecord(server.server_urls) ? server.server_urls : {};
    this.signalingConnectedAt = Date.now();
    this.subscribedOn = null;
  }

  /**
   * The webhook side may have stored new URLs (failover) since the job started: they are
   * read from the stream row. The row is written before a failover signal is published, so
   * it is never older than the signal. When Postgres does not answer within
   * SERVER_URLS_READ_TIMEOUT_MS, or fails, the URLs the stream has are kept: a failover
   * still reaches the stream through its own signal (StreamSession.onSignal).
   */
  private async refreshServerUrls(): Promise<void> {
    try {
      const row = await withTimeout(this.deps.streams.findByStreamId(this.rtmsStreamId), SERVER_URLS_READ_TIMEOUT_MS, `no answer within ${SERVER_URLS_READ_TIMEOUT_MS} ms`);
      if (this.urlsReadFailing) {
        this.urlsReadFailing = false;
        this.logger.log(`Stream ${this.rtmsStreamId}: server URLs read from the stream row again`);
      }
      if (row && row.serverUrls !== this.urls) this.useServerUrls(row.serverUrls);
    } catch (err) {
      if (!this.urlsReadFailing) {
        this.urlsReadFailing = true;
        this.logger.warn(`Stream ${this.rtmsStreamId}: could not read its server URLs from Postgres (${errorMessage(err)}); reconnecting to the ones it has`);
      }
    }
  }

  /**
   * Opens the media sockets the plan needs. Sockets still open (split mode: the types
   * that were not interrupted) are kept; only missing ones are handshaken again. A type
   * Zoom refuses (9–13, no scope) is dropped for the rest of the stream and the plan is
   * redone at once without it: each round drops at least one type, so this ends.
   */
  async connectMedia(): Promise<void> {
    for (;;) {
      const refused = await this.connectMediaOnce();
      if (refused.length === 0) return;
    }
  }

  /** The types still asked for: the job's, less those Zoom refused. */
  private get wantedTypes(): MediaTypeName[] {
    return this.init.mediaTypes.filter((t) => !this.refusedTypes.has(t));
  }

  /** One round of connectMedia; returns the types Zoom refused in it (none: done). */
  private async connectMediaOnce(): Promise<MediaTypeName[]> {
    const signaling = this.signalingSock;
    if (!signaling?.open) throw new RtmsConnectionError('signaling', 'not connected');
    if (this.events.stopping?.()) throw new RtmsConnectionError('media', 'not connecting: the stream is ending');
    const plan = planMediaSockets(this.mediaServerUrls, this.wantedTypes, this.deps.config.mediaSocketMode);
    this.warnUnavailable(plan.unavailable);
    if (plan.sockets.length === 0) {
      const refused = this.refusedTypes.size > 0 ? `; refused by the media server: ${[...this.refusedTypes].join(', ')}` : '';
      throw new StreamConfigError(`the media server offered no URL for any requested media type (${this.init.mediaTypes.join(', ')})${refused}`);
    }
    for (const p of plan.sockets) {
      const refusal = checkServerUrls(p.url, this.deps.urlPolicy);
      if (refusal) throw new StreamConfigError(`media server URL refused by RTMS_ALLOWED_HOSTS policy: ${refusal}`);
    }
    const keep = this.media.filter((s) => s.open && plan.sockets.some((p) => p.key === s.label));
    for (const s of this.media) if (!keep.includes(s)) s.close(1000, 'client reconnecting');
    const missing = plan.sockets.filter((p) => !keep.some((s) => s.label === p.key));
    if (missing.length > 0) this.events.onMediaConnecting(missing.flatMap((p) => p.types));
    const fresh = missing.map((p) => ({ p, sock: this.socket('media', p.key, p.url) }));
    this.media = [...keep, ...fresh.map((f) => f.sock)];
    const results = await Promise.allSettled(
      fresh.map(async ({ p, sock }) => {
        await this.shake(sock, dataHandshake(this.init.identity, p.types, this.init.mediaParams), RtmsMessageType.DataHandshakeResp, {
          onMessage: (m, bytes, at) => this.events.onMediaMessage(m, bytes, at),
          onFastMedia: (frame, bytes, at) => this.events.onFastMedia(frame, bytes, at),
          onInvalid: (reason, bytes) => this.events.onInvalid('media', reason, bytes),
          onClose: (code, reason) => {
            this.countOversize('media', code);
            if (this.media.includes(sock)) this.events.onMediaClosed(p.key, code, reason);
          },
        });
        // One CLIENT_READY_ACK per successful media handshake, on signaling.
        signaling.send({ msg_type: RtmsMessageType.ClientReadyAck, rtms_stream_id: this.rtmsStreamId });
      }),
    );
    const failed = fresh.flatMap((f, i) => {
      const r = results[i];
      return r.status === 'rejected' ? [{ ...f, err: r.reason as unknown, refused: refusedType(r.reason, f.p.types) }] : [];
    });
    const allBesideTyped = plan.sockets.length > 1 ? plan.sockets.find((p) => p.key === 'all') : undefined;
    const conflict = allBesideTyped && !this.allBesideTypedAccepted ? failed.find((f) => isConnectionConflict(f.err)) : undefined;
    if (allBesideTyped && conflict) {
      // MEDIA_DATA_ALL_CONNECTION_EXIST / DUPLICATE_MEDIA_DATA_CONNECTION the first time an
      // `all` socket meets per-type ones: this server does not take the two kinds at once.
      // The per-type sockets carry the documented types; what only `all` could carry is
      // dropped (recorded) instead of failing the whole stream when the reconnect window
      // runs out. Sockets that came up stay; the next round redials the refused per-type ones.
      const allSocks = this.media.filter((s) => s.label === 'all');
      this.media = this.media.filter((s) => !allSocks.includes(s) && !failed.some((f) => f.sock === s));
      for (const s of allSocks) s.close(1000, 'split mode: the media server refused an all socket beside per-type sockets');
      if (fresh.length > failed.length) this.mediaConnectedAt = Date.now();
      return allBesideTyped.types.map((t) => this.refuse(t, conflict.err as RtmsStatusError));
    }
    const other = failed.find((f) => !f.refused);
    const refused = failed.flatMap((f) => (f.refused ? [this.refuse(f.refused, f.err as RtmsStatusError)] : []));
    if (other) {
      for (const f of fresh) f.sock.close(1000, 'client reconnecting');
      this.media = this.media.filter((s) => !fresh.some((f) => f.sock === s));
      throw other.err;
    }
    if (fresh.length > failed.length) this.mediaConnectedAt = Date.now();
    if (refused.length > 0) {
      // Only refusals: the sockets that came up stay (handshaken, acknowledged, carrying
      // media) and the next round's plan keeps them; the refused ones are closed already.
      this.media = this.media.filter((s) => !failed.some((f) => f.sock === s));
      return refused;
    }
    if (allBesideTyped) this.allBesideTypedAccepted = true;
    if (this.subscribedOn !== signaling) {
      signaling.send(eventSubscription());
      this.subscribedOn = signaling;
    }
    return [];
  }

  /** Zoom refused `type` (no scope): it is not asked for again by this stream. Logged and recorded once. */
  private refuse(type: MediaTypeName, err: RtmsStatusError): MediaTypeName {
    this.refusedTypes.add(type);
    const why = isConnectionConflict(err) ? 'split mode: no all socket beside per-type sockets' : 'no scope?';
    this.logger.warn(`Stream ${this.rtmsStreamId}: the media server refused ${type} (${err.statusName}, ${err.statusCode}: ${why}); not requested any more`);
    this.events.record('stream.media_type_unavailable', { media_type: type, status_code: err.statusCode, status_name: err.statusName });
    return type;
  }

  /** Logged when the set of types without a URL changes (not on every reconnect). */
  private warnUnavailable(types: MediaTypeName[]): void {
    const key = types.join(',');
    if (key === this.unavailableWarned) return;
    this.unavailableWarned = key;
    if (types.length > 0) this.logger.warn(`Stream ${this.rtmsStreamId}: no media URL offered for ${types.join(', ')} (no scope?); not requested`);
  }

  /**
   * Zoom says it lost the media connection (event 7, or stream state INTERRUPTED): every
   * media socket is replaced, even one that still looks open here — Zoom's close may never
   * reach us (a half-open link), and the notice does not say which type it means.
   */
  closeMedia(): void {
    const old = this.media;
    this.media = [];
    for (const m of old) m.close(1000, 'client reconnecting');
  }

  /** Media-only reconnection: sockets still open stay (split mode); dead ones are closed, to be replaced. */
  dropDeadMedia(): void {
    const dead = this.media.filter((m) => !m.open);
    for (const m of dead) m.close(1000, 'client reconnecting');
    this.media = this.media.filter((m) => m.open);
  }

  /**
   * Closes (without reporting the close) every open media socket that has received
   * nothing for `timeoutMs`: no data and no KEEP_ALIVE_REQ, which Zoom sends on media
   * while no data flows. A half-open link gives no close event, and if Zoom's notice of
   * the lost connection (event 7) never arrives either, only this finds it. Returns the
   * labels of the sockets closed; they are gone from the list, so a media reconnect
   * replaces them and keeps the rest.
   */
  closeSilentMedia(timeoutMs: number, now = Date.now()): string[] {
    const silent = this.media.filter((m) => m.open && m.lastMessageAt > 0 && now - m.lastMessageAt > timeoutMs);
    if (silent.length === 0) return [];
    for (const m of silent) void m.close(1000, 'client reconnecting');
    this.media = this.media.filter((m) => !silent.includes(m));
    return silent.map((m) => m.label);
  }

  /** Every media socket is open and came up less than `ms` ago (a notice about the one it replaced is stale). */
  mediaConnectedWithin(ms: number): boolean {
    return this.media.length > 0 && this.media.every((s) => s.open) && Date.now() - this.mediaConnectedAt < ms;
  }

  /**
   * Whether Zoom has sent no keep-alive on signaling for `timeoutMs` (counted from the
   * connection when none came yet). True once per connection.
   */
  keepAliveOverdue(timeoutMs: number): boolean {
    const sock = this.signalingSock;
    if (!sock?.open || this.signalingConnectedAt === 0) return false;
    const last = Math.max(sock.keepAlive.lastRequestAt ?? 0, this.signalingConnectedAt);
    if (Date.now() - last <= timeoutMs) return false;
    this.signalingConnectedAt = 0;
    return true;
  }

  /**
   * Closes every socket. Resolves when the media sockets have closed: Zoom ends a stream
   * on signaling, and media is another TCP stream whose last messages can still be on
   * the way; they arrive until Zoom answers our close frame (a few ms; at most 2 s).
   * Called again while those closes are pending, it waits for them too.
   */
  closeAll(): Promise<void> {
    const media = this.media;
    this.media = [];
    this.mediaClosing.push(...media.map((s) => s.close(1000, 'client reconnecting')));
    const sig = this.signalingSock;
    this.signalingSock = null;
    void sig?.close(1000, 'client closing');
    const pending = this.mediaClosing;
    return Promise.all(pending).then(() => {
      if (this.mediaClosing === pending) this.mediaClosing = [];
    });
  }

  /** 1009: a message over the limit (maxPayload); the close is then handled like any other drop. */
  private countOversize(socket: 'signaling' | 'media', code: number): void {
    if (code !== 1009) return;
    this.deps.metrics.oversizeCloses.inc({ socket });
    this.logger.warn(`Stream ${this.rtmsStreamId}: ${socket} message over the size limit; socket closed (1009), reconnecting`);
  }

  private socket(kind: 'signaling' | 'media', label: string, url: string): RtmsSocket {
    return new RtmsSocket({
      kind,
      label,
      url,
      handshakeTimeoutMs: this.deps.config.handshakeTimeoutMs,
      maxMessageBytes: kind === 'signaling' ? this.deps.config.maxSignalingMessageBytes : this.deps.config.maxMessageBytes,
      keepAlive: {
        answered: (socket, latencyMs) => {
          this.deps.metrics.keepAliveReply.observe({ socket }, latencyMs / 1000);
          this.deps.metrics.keepAlives.inc({ socket });
          if (socket === 'signaling') this.events.onSignalingKeepAlive();
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
        this.events.record('rtms.handshake_refused', { socket: kind, path: sock.label, status_code: err.statusCode, status_name: err.statusName, reason: err.reason.slice(0, 500), class: err.statusClass });
      } else {
        this.deps.metrics.handshakes.inc({ socket: kind, result: 'connection_error' });
      }
      throw err;
    }
  }
}
