import { ConfigService } from '@nestjs/config';
import { newConsoleSecret } from '../../../common/auth/console-session';
import type { ConsoleSession } from '../../../common/auth/console-session';
import type { ConsoleSessions } from '../../../common/auth/console-sessions.service';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { parseApiKeys } from '../../../config/api-keys';
import { AppConfig } from '../../../config/app.config';
import { JobProducer } from '../../../jobs/job-producer.service';
import { LiveCloseCode } from '../live-protocol';
import { LiveAuth } from './live-auth';
import { LiveClient } from './live-client';
import { LiveClientWatch } from './live-client-watch';
import type { LiveFanout } from './live-fanout.service';
import { LiveMetrics } from './live-metrics';
import type { LiveSettings } from './live-settings';
import type { LiveTickets } from './live-tickets.service';
import { LiveTransport } from './live-transport';

const HUB = 'http://hub:3000';
const PING_MS = 30_000;

/** Console logins over a Map, counting what renews them (find) and what only reads them (peek). */
class FakeConsoleSessions {
  readonly sessions = new Map<string, ConsoleSession>();
  renewals = 0;
  down = false;
  login(): string {
    const id = newConsoleSecret();
    this.sessions.set(id, { id, username: 'ops', csrf: 'x', created_at: '' });
    return id;
  }
  async find(id: string) {
    this.renewals++;
    return this.peek(id);
  }
  async peek(id: string) {
    if (this.down) throw new Error('Redis unreachable');
    return this.sessions.get(id) ?? null;
  }
  async destroy(id: string) {
    this.sessions.delete(id);
  }
}

class FakeTransport implements LiveTransport {
  constructor(readonly kind: 'ws' | 'sse') {}
  closedWith: number | null = null;
  bufferedBytes() {
    return 0;
  }
  sendEntry() {}
  sendControl() {}
  sendFrame() {}
  cork() {}
  uncork() {}
  close(code: number) {
    this.closedWith = code;
  }
  terminate() {}
}

describe('LiveClientWatch: live connections opened with the console login end with it', () => {
  const metrics = new LiveMetrics(new MetricsService({ allQueues: () => [] } as unknown as JobProducer));
  const config = { get: () => ({ apiKeys: parseApiKeys('k'.repeat(40)) }) } as unknown as ConfigService<AppConfig, true>;
  const settings = { config: { pingIntervalMs: PING_MS } } as unknown as LiveSettings;

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  async function setUp() {
    const store = new FakeConsoleSessions();
    const auth = new LiveAuth(config, { redeem: async () => null } as unknown as LiveTickets, store as unknown as ConsoleSessions);
    const clients: LiveClient[] = [];
    const fanout = { connectedClients: () => clients.filter((c) => !c.closed) } as unknown as LiveFanout;
    const watch = new LiveClientWatch(fanout, settings);
    watch.onApplicationBootstrap();
    const open = async (id: string, kind: 'ws' | 'sse') => {
      const principal = await auth.authenticate({ headers: { cookie: `rtms_console=${id}`, origin: HUB } }, null, HUB);
      if (!principal) throw new Error('refused');
      const transport = new FakeTransport(kind);
      const client = new LiveClient(transport, principal, 4096, metrics, () => undefined);
      clients.push(client);
      return { client, transport };
    };
    return { store, watch, open };
  }

  it('closes a WebSocket (4401) and ends an SSE stream within one ping interval of the logout; other logins stay', async () => {
    const { store, watch, open } = await setUp();
    const id = store.login();
    const other = store.login();
    const ws = await open(id, 'ws');
    const sse = await open(id, 'sse');
    const stays = await open(other, 'ws');
    await jest.advanceTimersByTimeAsync(PING_MS);
    expect([ws.client.closed, sse.client.closed, stays.client.closed]).toEqual([false, false, false]);

    await store.destroy(id);
    await jest.advanceTimersByTimeAsync(PING_MS);
    expect(ws.transport.closedWith).toBe(LiveCloseCode.Unauthorized);
    expect(sse.client.closed).toBe(true);
    expect(sse.transport.closedWith).toBe(LiveCloseCode.Unauthorized);
    expect(stays.client.closed).toBe(false);
    watch.onApplicationShutdown();
  });

  it('neither the connection nor its re-checks renew the login (an open live page does not keep it alive)', async () => {
    const { store, watch, open } = await setUp();
    const id = store.login();
    await open(id, 'sse');
    await jest.advanceTimersByTimeAsync(3 * PING_MS);
    expect(store.renewals).toBe(0);
    watch.onApplicationShutdown();
  });

  it('keeps the connection while the login cannot be checked (Redis down), and closes it once the check says it ended', async () => {
    const { store, watch, open } = await setUp();
    const id = store.login();
    const ws = await open(id, 'ws');
    store.down = true;
    await store.destroy(id);
    await jest.advanceTimersByTimeAsync(PING_MS);
    expect(ws.client.closed).toBe(false);
    store.down = false;
    await jest.advanceTimersByTimeAsync(PING_MS);
    expect(ws.transport.closedWith).toBe(LiveCloseCode.Unauthorized);
    watch.onApplicationShutdown();
  });
});
