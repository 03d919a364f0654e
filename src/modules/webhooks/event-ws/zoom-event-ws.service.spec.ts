import { Logger, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type Redis from 'ioredis';
import { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { MetricsService } from '../../../common/metrics/metrics.service';
import type { KeyExpiryWatcher } from '../../../common/redis/key-expiry-watcher';
import type { AppConfig, ZoomEventWsConfig } from '../../../config/app.config';
import type { JobProducer } from '../../../jobs/job-producer.service';
import type { ZoomOAuthClient } from '../../../zoom/auth/zoom-oauth.client';
import type { ZoomEventIntakeService } from '../zoom-event-intake.service';
import { ZoomEventWsService } from './zoom-event-ws.service';

/**
 * Wakes waiters whenever something observable happens (a socket connects or sends, a
 * metric of the service moves, the lease is written, an event is ingested), so a test
 * awaits the state it expects — with a deadline — instead of polling it on a timer.
 */
class Changes {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const check of [...this.waiters]) check();
  }

  until(probe: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    if (probe()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = () => {
        if (!probe()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}

const changes = new Changes();
/** Redis without keyspace notifications: the standby polls. */
const noExpiryEvents = { watch: () => () => undefined } as unknown as KeyExpiryWatcher;
const until = (probe: () => boolean, what: string, timeoutMs?: number) => changes.until(probe, what, timeoutMs);

/** The few Redis commands the lease uses, in memory (TTL ignored: tests steal the key explicitly). */
class FakeRedis {
  readonly data = new Map<string, string>();
  async set(key: string, value: string, ..._args: unknown[]): Promise<'OK' | null> {
    if (this.data.has(key)) return null;
    this.data.set(key, value);
    changes.notify();
    return 'OK';
  }
  async get(key: string): Promise<string | null> {
    return this.data.get(key) ?? null;
  }
  async eval(script: string, _n: number, key: string, holder: string): Promise<number> {
    if (this.data.get(key) !== holder) return 0;
    if (script.includes("'del'")) this.data.delete(key);
    changes.notify();
    return 1;
  }
}

/** Metrics whose counters and gauges also report every change to `changes` (the service's state changes are counted). */
function observedMetrics(): MetricsService {
  const metrics = new MetricsService({ allQueues: () => [] } as unknown as JobProducer);
  const counter = metrics.counter.bind(metrics);
  metrics.counter = ((config: Parameters<MetricsService['counter']>[0]) => {
    const c = counter(config);
    const inc = c.inc.bind(c) as (...args: unknown[]) => void;
    (c as unknown as { inc: (...args: unknown[]) => void }).inc = (...args: unknown[]) => {
      inc(...args);
      changes.notify();
    };
    return c;
  }) as MetricsService['counter'];
  return metrics;
}

describe('ZoomEventWsService', () => {
  let wss: WebSocketServer;
  let url: string;
  let answerHeartbeats = true;
  const connections: WebSocket[] = [];
  let heartbeats = 0;
  let services: ZoomEventWsService[] = [];

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    answerHeartbeats = true;
    heartbeats = 0;
    connections.length = 0;
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
    wss.on('connection', (ws) => {
      connections.push(ws);
      changes.notify();
      ws.on('message', (d) => {
        if (JSON.parse(d.toString()).module === 'heartbeat') {
          heartbeats++;
          if (answerHeartbeats) ws.send(JSON.stringify({ module: 'heartbeat', success: true }));
          changes.notify();
        }
      });
    });
  });

  afterEach(async () => {
    for (const s of services) await s.onModuleDestroy();
    services = [];
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  });

  function make(overrides: Partial<ZoomEventWsConfig> = {}, intake?: Partial<ZoomEventIntakeService>, redis = new FakeRedis()) {
    const cfg: ZoomEventWsConfig = {
      url,
      subscriptionId: 'sub',
      clientId: 'id',
      clientSecret: 'secret',
      heartbeatMs: 50,
      idleTimeoutMs: 60_000,
      leaseTtlMs: 600,
      reconnectMinMs: 20,
      reconnectMaxMs: 100,
      ...overrides,
    };
    const values: Partial<AppConfig> = { zoomEventWs: cfg, queues: { prefix: 'unit' } as AppConfig['queues'], rtms: { allowInsecureWs: true } as AppConfig['rtms'] };
    const config = { get: (k: keyof AppConfig) => values[k] } as unknown as ConfigService<AppConfig, true>;
    const metrics = observedMetrics();
    const oauth = { clientCredentials: jest.fn(async () => ({ accessToken: 'tok', expiresInSec: 3600, scope: '' })) } as unknown as ZoomOAuthClient;
    const ingest = jest.fn(async () => {
      changes.notify();
      return 'accepted' as const;
    });
    const svc = new ZoomEventWsService({ ingest, ...intake } as unknown as ZoomEventIntakeService, oauth, redis as unknown as Redis, config, metrics, noExpiryEvents);
    services.push(svc);
    const metric = async (name: string, labels: Record<string, string> = {}) => {
      const m = await metrics.registry.getSingleMetric(name)?.get();
      const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
      return v?.value ?? 0;
    };
    return { svc, ingest, metric, redis };
  }

  it('sends heartbeats on schedule; an unanswered one is logged and counted as late; silence past the idle timeout reconnects', async () => {
    answerHeartbeats = false;
    const { svc, metric } = make({ idleTimeoutMs: 400 });
    svc.onApplicationBootstrap();
    await until(() => heartbeats >= 2, 'two heartbeats');
    await until(() => svc.status.state === 'heartbeat_late', 'heartbeat late');
    expect(await metric('rtms_hub_zoom_event_ws_state_changes_total', { state: 'heartbeat_late' })).toBeGreaterThanOrEqual(1);
    await until(() => connections.length === 2, 'reconnect after idle timeout');
    expect(await metric('rtms_hub_zoom_event_ws_closes_total', { code: '1006' })).toBeGreaterThanOrEqual(1);
  });

  it('answered heartbeats keep it open; a malformed frame is counted and the connection stays', async () => {
    // A heartbeat a little longer than the others' 50 ms: each answer must be read before the
    // next heartbeat is due, which a loaded machine can delay past 50 ms.
    const { svc, metric, ingest } = make({ heartbeatMs: 250 });
    svc.onApplicationBootstrap();
    await until(() => heartbeats >= 3 && svc.status.state === 'open', 'heartbeats answered');
    connections[0].send('not json');
    connections[0].send(Buffer.from([1, 2, 3]), { binary: true });
    connections[0].send(JSON.stringify({ module: 'message', content: JSON.stringify({ event: 'meeting.rtms_started', payload: {} }) }));
    await until(() => ingest.mock.calls.length === 1, 'event ingested');
    expect(await metric('rtms_hub_zoom_event_ws_frames_total', { kind: 'malformed' })).toBe(2);
    expect(connections).toHaveLength(1);
    expect(await metric('rtms_hub_zoom_event_ws_state_changes_total', { state: 'heartbeat_late' })).toBe(0);
  });

  it('retries storing an event while intake is unavailable, and ingests frames in arrival order', async () => {
    let failures = 2;
    const seen: string[] = [];
    const ingest = jest.fn(async (body: { event: string }) => {
      if (body.event === 'a' && failures-- > 0) throw new ServiceUnavailableException();
      seen.push(body.event);
      return 'accepted' as const;
    });
    const { svc, metric } = make({}, { ingest: ingest as unknown as ZoomEventIntakeService['ingest'] });
    svc.onApplicationBootstrap();
    await until(() => connections.length === 1 && svc.status.state === 'open', 'open');
    for (const e of ['a', 'b']) connections[0].send(JSON.stringify({ module: 'message', content: JSON.stringify({ event: e }) }));
    await until(() => seen.length === 2, 'both stored', 5000);
    expect(seen).toEqual(['a', 'b']);
    expect(await metric('rtms_hub_zoom_event_ws_events_total', { outcome: 'accepted' })).toBe(2);
  });

  it('closes its socket at once when the lease is taken by someone else, then stands by', async () => {
    const { svc, redis, metric } = make();
    svc.onApplicationBootstrap();
    await until(() => svc.status.state === 'open', 'open');
    redis.data.set('unit:zoom-event-ws:lease:sub', 'someone-else');
    await until(() => svc.status.state === 'standby', 'standby', 2000);
    expect(connections[0].readyState).toBe(WebSocket.CLOSED);
    expect(await metric('rtms_hub_zoom_event_ws_state_changes_total', { state: 'lease_lost' })).toBe(1);
    // When the other holder goes away, it takes the lease back and reconnects.
    redis.data.delete('unit:zoom-event-ws:lease:sub');
    await until(() => svc.status.state === 'open' && connections.length === 2, 'back', 3000);
  });

  it('shutdown closes the socket, releases the lease and leaves no timers', async () => {
    const { svc, redis } = make();
    svc.onApplicationBootstrap();
    await until(() => svc.status.state === 'open', 'open');
    await svc.onModuleDestroy();
    expect(svc.status.state).toBe('stopped');
    expect(redis.data.size).toBe(0);
    expect(connections[0].readyState).toBe(WebSocket.CLOSED);
  });

  it('refuses to start when the event WebSocket has no app credentials', () => {
    const { svc } = make({ clientId: undefined });
    expect(() => svc.onApplicationBootstrap()).toThrow(/ZOOM_EVENT_WS_CLIENT_ID/);
  });
});
