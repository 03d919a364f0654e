import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import { errorMessage } from '../../../common/errors/error-message';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { KeyExpiryWatcher } from '../../../common/redis/key-expiry-watcher';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig, ZoomEventWsConfig } from '../../../config/app.config';
import { ZoomOAuthClient } from '../../../zoom/auth/zoom-oauth.client';
import { ZoomEventIntakeService } from '../zoom-event-intake.service';
import { EventWsConnection } from './event-ws-connection';
import { EventWsFrameIntake } from './event-ws-frame-intake';
import { eventWsUrl, reconnectDelayMs } from './event-ws-frames';
import { EventWsLease } from './event-ws-lease';
import { EventWsLeaseKeeper } from './event-ws-lease-keeper';
import { EventWsTokenCache } from './event-ws-token-cache';

const DRAIN_ON_SHUTDOWN_MS = 5_000;

export type EventWsState = 'idle' | 'standby' | 'connecting' | 'open' | 'heartbeat_late' | 'closed' | 'stopped';

/**
 * Zoom's event WebSocket as a second source of Zoom events (next to webhooks), for hubs
 * Zoom cannot reach by HTTP. Exactly one process per subscription holds the socket: the
 * holder of a Redis lease (renewed every TTL/3; a dead holder's lease expires and a
 * standby process takes it at once, told by a Redis expiry event, else at its next poll). The holder fetches a `client_credentials` token (renewed
 * before expiry), connects, sends `{"module":"heartbeat"}` on schedule, reconnects with
 * exponential backoff and jitter, and hands every event to ZoomEventIntakeService — the
 * webhook's path, so an event that comes both ways is stored and processed once.
 *
 * This class coordinates; the parts each do one job: EventWsLeaseKeeper (lease loop),
 * EventWsTokenCache (token), EventWsConnection (one socket and its heartbeats) and
 * EventWsFrameIntake (frames → intake).
 */
@Injectable()
export class ZoomEventWsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ZoomEventWsService.name);
  private readonly cfg: ZoomEventWsConfig | null;
  private readonly leaseKeeper?: EventWsLeaseKeeper;
  private readonly token?: EventWsTokenCache;
  private readonly frameIntake: EventWsFrameIntake;

  private readonly stateChanges: Counter<'state'>;
  private readonly closes: Counter<'code'>;
  private readonly heartbeatsSent: Counter;
  private readonly connectedGauge: Gauge;
  private readonly leaseGauge: Gauge;

  private stopped = false;
  private started = false;
  private state: EventWsState = 'idle';
  private connection?: EventWsConnection;
  /** Reconnect attempts since the last connection that proved good (answered or delivered). */
  private attempt = 0;
  private stable = false;
  private reconnectTimer?: NodeJS.Timeout;
  private unwatchExpiry?: () => void;

  constructor(
    intake: ZoomEventIntakeService,
    oauth: ZoomOAuthClient,
    @Inject(REDIS_CLIENT) redis: Redis,
    private readonly config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
    private readonly expiries: KeyExpiryWatcher,
  ) {
    this.cfg = config.get('zoomEventWs', { infer: true });
    const cfg = this.cfg;
    if (cfg) {
      const prefix = config.get('queues', { infer: true }).prefix;
      const lease = new EventWsLease(redis, `${prefix}:zoom-event-ws:lease:${cfg.subscriptionId}`, cfg.leaseTtlMs);
      this.leaseKeeper = new EventWsLeaseKeeper(lease, cfg.leaseTtlMs, { acquired: () => this.onLeaseAcquired(), lost: (reason) => this.onLeaseLost(reason) }, this.logger);
      this.token = new EventWsTokenCache(
        oauth,
        { clientId: cfg.clientId as string, clientSecret: cfg.clientSecret as string },
        () => !this.stopped && this.holding,
        this.logger,
      );
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
    this.frameIntake = new EventWsFrameIntake(
      intake,
      { heartbeatAck: () => this.onHeartbeatAck(), eventReceived: () => (this.stable = true) },
      this.logger,
      metrics,
    );
    this.heartbeatsSent = metrics.counter({ name: 'rtms_hub_zoom_event_ws_heartbeats_sent_total', help: 'Heartbeats sent on the Zoom event WebSocket' });
    this.connectedGauge = metrics.gauge({ name: 'rtms_hub_zoom_event_ws_connected', help: '1 while this process has the Zoom event WebSocket open' });
    this.leaseGauge = metrics.gauge({ name: 'rtms_hub_zoom_event_ws_lease_held', help: '1 while this process holds the Zoom event WebSocket lease' });
  }

  /** Current state, for tests and diagnostics. */
  get status(): { state: EventWsState; holding: boolean; holderId?: string } {
    return { state: this.state, holding: this.holding, holderId: this.leaseKeeper?.holderId };
  }

  private get holding(): boolean {
    return this.leaseKeeper?.holding ?? false;
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
    this.setState('standby', `Zoom event WebSocket enabled for subscription ${cfg.subscriptionId}; waiting for the lease (${this.leaseKeeper?.holderId})`);
    const keeper = this.leaseKeeper;
    if (keeper) {
      // A dead holder's lease expiring is the standby's cue to take it (no wait for a poll).
      this.unwatchExpiry = this.expiries.watch(
        keeper.key,
        (key) => key === keeper.key && keeper.expired(),
        (enabled) => keeper.setExpiryEvents(enabled),
      );
      keeper.start();
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.started || this.stopped) return;
    this.stopped = true;
    this.frameIntake.stopRetrying();
    this.leaseKeeper?.stop();
    this.unwatchExpiry?.();
    this.token?.cancelRefresh();
    this.cancelReconnect();
    await this.connection?.close(1000, 'shutting down');
    // Let received events reach the database before its pool closes.
    if (!(await this.frameIntake.drain(DRAIN_ON_SHUTDOWN_MS))) {
      this.logger.error('Shutdown: events received on the event WebSocket were still being stored; see rtms_hub_zoom_event_ws_events_total{outcome="lost"}');
    }
    if (await this.leaseKeeper?.releaseIfHeld()) this.leaseGauge.set(0);
    this.setState('stopped', 'Zoom event WebSocket stopped');
  }

  // ───────────── lease ─────────────

  private onLeaseAcquired(): void {
    this.leaseGauge.set(1);
    this.stateChanges.inc({ state: 'lease_acquired' });
    this.logger.log(`Took the event WebSocket lease for subscription ${this.cfg?.subscriptionId} (${this.leaseKeeper?.holderId})`);
    this.attempt = 0;
    void this.connect();
  }

  private onLeaseLost(reason: string): void {
    this.leaseGauge.set(0);
    this.stateChanges.inc({ state: 'lease_lost' });
    this.logger.warn(`Lost the event WebSocket lease: ${reason}; closing the socket`);
    this.cancelReconnect();
    this.token?.cancelRefresh();
    void (this.connection?.close(1000, 'lease lost') ?? Promise.resolve()).then(() => {
      if (!this.stopped && !this.holding) this.setState('standby', 'Event WebSocket on standby (another process holds it)');
    });
  }

  // ───────────── socket ─────────────

  private async connect(): Promise<void> {
    const cfg = this.cfg;
    const tokens = this.token;
    if (this.stopped || !this.holding || !cfg || !tokens || this.connection) return;
    this.setState('connecting', `Event WebSocket connecting (attempt ${this.attempt + 1})`);
    let token: string;
    try {
      token = await tokens.get();
    } catch (err) {
      this.logger.warn(`Event WebSocket token fetch failed: ${errorMessage(err)}`);
      this.scheduleReconnect();
      return;
    }
    if (this.stopped || !this.holding || this.connection) return;
    const { url, safe } = eventWsUrl(cfg.url, cfg.subscriptionId, token);
    this.stable = false;
    const connection: EventWsConnection = new EventWsConnection(
      url,
      cfg,
      {
        opened: () => {
          this.connectedGauge.set(1);
          this.setState('open', `Event WebSocket open (${safe})`);
        },
        message: (data, isBinary) => this.frameIntake.receive(data, isBinary),
        heartbeatSent: () => this.heartbeatsSent.inc(),
        heartbeatLate: () => this.setState('heartbeat_late', `Event WebSocket heartbeat late: no answer to the last one within ${cfg.heartbeatMs} ms`, 'warn'),
        unauthorized: () => tokens.invalidate(),
        closed: ({ code, why, opened }) => {
          if (this.connection === connection) this.connection = undefined;
          this.connectedGauge.set(0);
          this.closes.inc({ code });
          this.setState('closed', `Event WebSocket closed (code ${code}${why ? `: ${why}` : ''})`, opened ? 'log' : 'warn');
          // Zoom does not replay what it sends while we are away: a connection that was
          // healthy is reopened at once; one that never was backs off.
          if (this.stable) this.attempt = 0;
          if (!this.stopped && this.holding) this.scheduleReconnect(this.stable);
        },
      },
      this.logger,
    );
    this.connection = connection;
  }

  private scheduleReconnect(immediate = false): void {
    const cfg = this.cfg;
    if (this.stopped || !this.holding || !cfg || this.reconnectTimer) return;
    const delay = immediate ? 0 : reconnectDelayMs(this.attempt, cfg.reconnectMinMs, cfg.reconnectMaxMs);
    this.attempt++;
    this.logger.log(`Event WebSocket reconnecting in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  private cancelReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private onHeartbeatAck(): void {
    this.stable = true;
    if (this.connection?.heartbeatAnswered() && this.state === 'heartbeat_late') this.setState('open', 'Event WebSocket heartbeat answered again');
  }

  private setState(state: EventWsState, message: string, level: 'log' | 'warn' = 'log'): void {
    this.state = state;
    this.stateChanges.inc({ state });
    this.logger[level](message);
  }
}
