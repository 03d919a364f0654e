import { HttpException, Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import WebSocket, { type RawData } from 'ws';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig, ZoomEventWsConfig } from '../../../config/app.config';
import { ZoomOAuthClient } from '../../../zoom/auth/zoom-oauth.client';
import { EventSource } from '../../sessions/entities/session-event.entity';
import { ZoomEventIntakeService } from '../zoom-event-intake.service';
import { EventWsLease } from './event-ws-lease';
import { eventWsUrl, MAX_FRAME_BYTES, parseEventWsFrame, reconnectDelayMs } from './event-ws-frames';
import { errorMessage } from '../../../common/errors/error-message';
import { isRecord } from '../../../common/types/is-record';

/** A token is replaced this long (at most) before Zoom's expiry. */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 2_000;
/** Attempts to store one received event when the database/queue is unavailable. */
const INGEST_ATTEMPTS = 6;
const INGEST_RETRY_BASE_MS = 250;
const DRAIN_ON_SHUTDOWN_MS = 5_000;

export type EventWsState = 'idle' | 'standby' | 'connecting' | 'open' | 'heartbeat_late' | 'closed' | 'stopped';

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Zoom's event WebSocket as a second source of Zoom events (next to webhooks), for hubs
 * Zoom cannot reach by HTTP. Exactly one process per subscription holds the socket: the
 * holder of a Redis lease (renewed every TTL/3; a dead holder's lease expires and a
 * standby process takes over). The holder fetches a `client_credentials` token (renewed
 * before expiry), connects, sends `{"module":"heartbeat"}` on schedule, reconnects with
 * exponential backoff and jitter, and hands every event to ZoomEventIntakeService — the
 * webhook's path, so an event that comes both ways is stored and processed once.
 */
@Injectable()
export class ZoomEventWsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ZoomEventWsService.name);
  private readonly cfg: ZoomEventWsConfig | null;
  private readonly lease?: EventWsLease;

  private readonly stateChanges: Counter<'state'>;
  private readonly closes: Counter<'code'>;
  private readonly frames: Counter<'kind'>;
  private readonly ingested: Counter<'outcome'>;
  private readonly heartbeatsSent: Counter;
  private readonly connectedGauge: Gauge;
  private readonly leaseGauge: Gauge;

  private stopped = false;
  private started = false;
  private holding = false;
  private lastRenewAt = 0;
  private state: EventWsState = 'idle';
  private ws?: WebSocket;
  private token?: CachedToken;
  private tokenInflight?: Promise<string>;
  private attempt = 0;
  private stable = false;
  private awaitingAck = false;
  private lastInboundAt = 0;
  private lastError = '';
  private ingestChain: Promise<void> = Promise.resolve();

  private leaseTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private tokenTimer?: NodeJS.Timeout;
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(
    private readonly intake: ZoomEventIntakeService,
    private readonly oauth: ZoomOAuthClient,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
  ) {
    this.cfg = config.get('zoomEventWs', { infer: true });
    if (this.cfg) {
      const prefix = config.get('queues', { infer: true }).prefix;
      this.lease = new EventWsLease(redis, `${prefix}:zoom-event-ws:lease:${this.cfg.subscriptionId}`, this.cfg.leaseTtlMs);
    }
    this.stateChanges = metrics.counter({
      name: 'rtms_hub_zoom_event_ws_state_changes_total',
      help: 'Zoom event WebSocket state changes (standby, lease_acquired, lease_lost, connecting, open, heartbeat_late, closed)',
      labelNames: ['state'],
    });
    this.closes = metrics.counter({
      name: 'rtms_hub_zoom_event_ws_closes_total',
      help: 'Zoom event WebSocket closes by close code (http_<status> when the handshake was refused)',
      labelNames: ['code'],
    });
    this.frames = metrics.counter({
      name: 'rtms_hub_zoom_event_ws_frames_total',
      help: 'Frames received on the Zoom event WebSocket by kind (event, heartbeat_ack, other, malformed)',
      labelNames: ['kind'],
    });
    this.ingested = metrics.counter({
      name: 'rtms_hub_zoom_event_ws_events_total',
      help: 'Events received on the Zoom event WebSocket by intake outcome (accepted, duplicate, refused, lost)',
      labelNames: ['outcome'],
    });
    this.heartbeatsSent = metrics.counter({ name: 'rtms_hub_zoom_event_ws_heartbeats_sent_total', help: 'Heartbeats sent on the Zoom event WebSocket' });
    this.connectedGauge = metrics.gauge({ name: 'rtms_hub_zoom_event_ws_connected', help: '1 while this process has the Zoom event WebSocket open' });
    this.leaseGauge = metrics.gauge({ name: 'rtms_hub_zoom_event_ws_lease_held', help: '1 while this process holds the Zoom event WebSocket lease' });
  }

  /** Current state, for tests and diagnostics. */
  get status(): { state: EventWsState; holding: boolean; holderId?: string } {
    return { state: this.state, holding: this.holding, holderId: this.lease?.holderId };
  }

  onApplicationBootstrap(): void {
    const cfg = this.cfg;
    if (!cfg) return;
    if (!cfg.clientId || !cfg.clientSecret) {
      throw new Error('ZOOM_EVENT_WS_URL is set but the event WebSocket has no app credentials: set ZOOM_EVENT_WS_CLIENT_ID and ZOOM_EVENT_WS_CLIENT_SECRET (or ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET)');
    }
    if (cfg.url.startsWith('ws://') && !this.config.get('rtms', { infer: true }).allowInsecureWs) {
      throw new Error('ZOOM_EVENT_WS_URL uses ws:// (the access token would travel in clear); use wss:// or, for a local simulator only, RTMS_ALLOW_INSECURE_WS=true');
    }
    this.started = true;
    this.setState('standby', `Zoom event WebSocket enabled for subscription ${cfg.subscriptionId}; waiting for the lease (${this.lease?.holderId})`);
    this.scheduleLeaseTick(0);
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.started || this.stopped) return;
    this.stopped = true;
    for (const t of [this.leaseTimer, this.reconnectTimer, this.heartbeatTimer, this.tokenTimer]) if (t) clearTimeout(t);
    this.leaseTimer = this.reconnectTimer = this.heartbeatTimer = this.tokenTimer = undefined;
    await this.closeSocket(1000, 'shutting down');
    // Let received events reach the database before its pool closes.
    const drained = await Promise.race([this.ingestChain.then(() => true), new Promise<boolean>((r) => this.sleepRaw(DRAIN_ON_SHUTDOWN_MS, () => r(false)))]);
    for (const s of this.sleeps) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleeps.clear();
    if (!drained) this.logger.error('Shutdown: events received on the event WebSocket were still being stored; see rtms_hub_zoom_event_ws_events_total{outcome="lost"}');
    if (this.holding) {
      this.holding = false;
      this.leaseGauge.set(0);
      await this.lease?.release().catch(() => undefined);
    }
    this.setState('stopped', 'Zoom event WebSocket stopped');
  }

  // ───────────── lease ─────────────

  private scheduleLeaseTick(delayMs: number): void {
    if (this.stopped) return;
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.leaseTimer = setTimeout(() => {
      this.leaseTimer = undefined;
      void this.leaseTick();
    }, delayMs);
  }

  private async leaseTick(): Promise<void> {
    const cfg = this.cfg;
    const lease = this.lease;
    if (this.stopped || !cfg || !lease) return;
    const renewEvery = Math.max(100, Math.floor(cfg.leaseTtlMs / 3));
    const standbyPoll = Math.max(100, Math.min(1000, Math.floor(cfg.leaseTtlMs / 4)));
    try {
      if (this.holding) {
        if (await lease.renew()) {
          this.lastRenewAt = Date.now();
        } else {
          this.loseLease('another process holds the lease now');
        }
      } else if ((await lease.tryAcquire()) || (await lease.renew())) {
        if (this.stopped) {
          await lease.release();
          return;
        }
        this.holding = true;
        this.lastRenewAt = Date.now();
        this.leaseGauge.set(1);
        this.stateChanges.inc({ state: 'lease_acquired' });
        this.logger.log(`Took the event WebSocket lease for subscription ${cfg.subscriptionId} (${lease.holderId})`);
        this.attempt = 0;
        void this.connect();
      }
    } catch (err) {
      const msg = errorMessage(err);
      // Cannot tell whether we still hold it: once it may have expired, stop using it.
      if (this.holding && Date.now() - this.lastRenewAt > cfg.leaseTtlMs - renewEvery) this.loseLease(`Redis unavailable (${msg})`);
      else this.logger.warn(`Event WebSocket lease check failed: ${msg}`);
    }
    if (this.stopped) return;
    this.scheduleLeaseTick(this.holding ? renewEvery : standbyPoll + Math.floor(Math.random() * 200));
  }

  private loseLease(reason: string): void {
    this.holding = false;
    this.leaseGauge.set(0);
    this.stateChanges.inc({ state: 'lease_lost' });
    this.logger.warn(`Lost the event WebSocket lease: ${reason}; closing the socket`);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.tokenTimer = undefined;
    void this.closeSocket(1000, 'lease lost').then(() => {
      if (!this.stopped && !this.holding) this.setState('standby', 'Event WebSocket on standby (another process holds it)');
    });
  }

  // ───────────── token ─────────────

  private async getToken(): Promise<string> {
    const t = this.token;
    if (t && t.expiresAt - Date.now() > Math.min(TOKEN_REFRESH_MARGIN_MS, 30_000)) return t.token;
    if (!this.tokenInflight) this.tokenInflight = this.fetchToken().finally(() => (this.tokenInflight = undefined));
    return this.tokenInflight;
  }

  private async fetchToken(): Promise<string> {
    const cfg = this.cfg as ZoomEventWsConfig;
    const set = await this.oauth.clientCredentials({ clientId: cfg.clientId as string, clientSecret: cfg.clientSecret as string });
    const lifetimeMs = set.expiresInSec * 1000;
    this.token = { token: set.accessToken, expiresAt: Date.now() + lifetimeMs };
    // Refresh ahead: 5 min before expiry, or at 90 % of a short lifetime.
    const refreshIn = Math.max(1000, lifetimeMs - Math.min(TOKEN_REFRESH_MARGIN_MS, lifetimeMs / 10));
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.tokenTimer = setTimeout(() => {
      this.tokenTimer = undefined;
      if (this.stopped || !this.holding) return;
      this.fetchToken().then(
        () => this.logger.log('Refreshed the event WebSocket token before expiry'),
        (err: unknown) => this.logger.warn(`Event WebSocket token refresh failed (will fetch on the next connect): ${errorMessage(err)}`),
      );
    }, refreshIn);
    this.logger.log(`Fetched a client_credentials token for the event WebSocket (expires in ${set.expiresInSec} s)`);
    return set.accessToken;
  }

  // ───────────── socket ─────────────

  private async connect(): Promise<void> {
    const cfg = this.cfg;
    if (this.stopped || !this.holding || !cfg || this.ws) return;
    this.setState('connecting', `Event WebSocket connecting (attempt ${this.attempt + 1})`);
    let token: string;
    try {
      token = await this.getToken();
    } catch (err) {
      this.lastError = errorMessage(err);
      this.logger.warn(`Event WebSocket token fetch failed: ${this.lastError}`);
      this.scheduleReconnect();
      return;
    }
    if (this.stopped || !this.holding || this.ws) return;
    const { url, safe } = eventWsUrl(cfg.url, cfg.subscriptionId, token);
    this.lastError = '';
    this.stable = false;
    this.awaitingAck = false;
    const ws = new WebSocket(url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
    this.ws = ws;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      this.lastInboundAt = Date.now();
      this.connectedGauge.set(1);
      this.setState('open', `Event WebSocket open (${safe})`);
      this.startHeartbeats(ws, cfg);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.lastInboundAt = Date.now();
      this.onFrame(data, isBinary);
    });
    ws.on('error', (err: Error) => {
      // ws reports a refused handshake as "Unexpected server response: 401".
      this.lastError = err.message.slice(0, 200);
      const status = /Unexpected server response: (\d{3})/.exec(err.message)?.[1];
      if (status === '401') this.token = undefined;
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = undefined;
      if (this.ws === ws) this.ws = undefined;
      this.connectedGauge.set(0);
      const status = /Unexpected server response: (\d{3})/.exec(this.lastError)?.[1];
      const label = !opened && status ? `http_${status}` : String(code);
      this.closes.inc({ code: label });
      const why = [reason.toString('utf8').slice(0, 120), this.lastError].filter((s) => s.length > 0).join('; ');
      this.setState('closed', `Event WebSocket closed (code ${label}${why ? `: ${why}` : ''})`, opened ? 'log' : 'warn');
      if (this.stable) this.attempt = 0;
      if (!this.stopped && this.holding) this.scheduleReconnect();
    });
  }

  private startHeartbeats(ws: WebSocket, cfg: ZoomEventWsConfig): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const idleFor = Date.now() - this.lastInboundAt;
      if (idleFor > cfg.idleTimeoutMs) {
        this.logger.warn(`Event WebSocket silent for ${idleFor} ms (no heartbeat answers); reconnecting`);
        this.lastError = 'idle timeout';
        ws.terminate();
        return;
      }
      if (this.awaitingAck && this.state !== 'heartbeat_late') {
        this.setState('heartbeat_late', `Event WebSocket heartbeat late: no answer to the last one within ${cfg.heartbeatMs} ms`, 'warn');
      }
      ws.send(JSON.stringify({ module: 'heartbeat' }), (err) => {
        if (err) this.logger.warn(`Event WebSocket heartbeat send failed: ${err.message}`);
      });
      this.awaitingAck = true;
      this.heartbeatsSent.inc();
    }, cfg.heartbeatMs);
  }

  private scheduleReconnect(): void {
    const cfg = this.cfg;
    if (this.stopped || !this.holding || !cfg || this.reconnectTimer) return;
    const delay = reconnectDelayMs(this.attempt, cfg.reconnectMinMs, cfg.reconnectMaxMs);
    this.attempt++;
    this.logger.log(`Event WebSocket reconnecting in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  private async closeSocket(code: number, reason: string): Promise<void> {
    const ws = this.ws;
    if (!ws) return;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, CLOSE_GRACE_MS);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
    });
  }

  // ───────────── frames → intake ─────────────

  private onFrame(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.frames.inc({ kind: 'malformed' });
      this.logger.warn('Malformed event WebSocket frame: binary frame (ignored)');
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
    const frame = parseEventWsFrame(text);
    this.frames.inc({ kind: frame.kind });
    switch (frame.kind) {
      case 'heartbeat_ack':
        this.awaitingAck = false;
        this.stable = true;
        if (this.state === 'heartbeat_late') this.setState('open', 'Event WebSocket heartbeat answered again');
        return;
      case 'event': {
        this.stable = true;
        const event = frame.event;
        this.ingestChain = this.ingestChain.then(() => this.ingest(event));
        return;
      }
      case 'other':
        this.logger.debug(`Event WebSocket frame of module "${frame.module}" ignored`);
        return;
      case 'malformed':
        this.logger.warn(`Malformed event WebSocket frame (${text.length} bytes): ${frame.reason}; ignored`);
        return;
    }
  }

  /** The webhook's path; retried while the store is unavailable (Zoom will not resend it). */
  private async ingest(event: Record<string, unknown>): Promise<void> {
    const name = String(event.event);
    const stream = isRecord(event.payload) && typeof event.payload.rtms_stream_id === 'string' ? ` for stream ${event.payload.rtms_stream_id}` : '';
    for (let i = 0; ; i++) {
      try {
        const outcome = await this.intake.ingest(event, EventSource.EventWebSocket);
        this.ingested.inc({ outcome });
        this.logger.log(`Event WebSocket ${name}${stream}: ${outcome}`);
        return;
      } catch (err) {
        const status = err instanceof HttpException ? err.getStatus() : 500;
        const msg = errorMessage(err);
        if (status < 500) {
          this.ingested.inc({ outcome: 'refused' });
          this.logger.warn(`Event WebSocket ${name}${stream} refused by intake: ${msg}`);
          return;
        }
        if (i + 1 >= INGEST_ATTEMPTS || this.stopped) {
          this.ingested.inc({ outcome: 'lost' });
          this.logger.error(`Event WebSocket ${name}${stream} could not be stored after ${i + 1} attempts: ${msg}`);
          return;
        }
        await this.sleep(INGEST_RETRY_BASE_MS * 2 ** i);
      }
    }
  }

  // ───────────── helpers ─────────────

  private setState(state: EventWsState, message: string, level: 'log' | 'warn' = 'log'): void {
    this.state = state;
    this.stateChanges.inc({ state });
    this.logger[level](message);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sleepRaw(ms, resolve));
  }

  private sleepRaw(ms: number, done: () => void): void {
    const entry = {
      resolve: done,
      timer: setTimeout(() => {
        this.sleeps.delete(entry);
        done();
      }, ms),
    };
    this.sleeps.add(entry);
  }
}
