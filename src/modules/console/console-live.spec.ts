import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The console's live client (assets/live.js, a plain ES module the browser loads) run
 * here with the browser objects it uses replaced by fakes: its imports and `export`s are
 * stripped and the fakes passed in as globals, so its reconnect logic runs as shipped.
 */
type Listener = (ev: Record<string, unknown>) => void;

class FakeEmitter {
  private readonly listeners = new Map<string, Listener[]>();
  addEventListener(type: string, fn: Listener) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  emit(type: string, ev: Record<string, unknown> = {}) {
    for (const fn of this.listeners.get(type) ?? []) fn(ev);
  }
}

class FakeWebSocket extends FakeEmitter {
  static instances: FakeWebSocket[] = [];
  sent: Array<Record<string, unknown>> = [];
  closed = false;
  constructor(readonly url: string) {
    super();
    FakeWebSocket.instances.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close() {
    this.closed = true;
  }
  message(msg: Record<string, unknown>) {
    this.emit('message', { data: JSON.stringify(msg) });
  }
}

class FakeEventSource extends FakeEmitter {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;
  constructor(readonly url: string) {
    super();
    FakeEventSource.instances.push(this);
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
}

interface LiveJs {
  subscribeLive(o: { sessions: unknown; media: string[]; onMessage: (m: unknown) => void; onState: (s: string, d?: string) => void }): () => void;
  followText(o: { url: string; listeners: Record<string, Listener>; onState: (s: string) => void; beforeReopen?: () => Promise<boolean> }): () => void;
}

function loadLiveJs(globals: Record<string, unknown>): LiveJs {
  let src = readFileSync(join(__dirname, 'assets', 'live.js'), 'utf8');
  src = src.replace(/^import .*;$/gm, '');
  const exported = [...src.matchAll(/^export function (\w+)/gm)].map((m) => m[1]);
  src = src.replace(/^export /gm, '');
  const names = Object.keys(globals);
  return new Function(...names, `'use strict';\n${src}\nreturn { ${exported.join(', ')} };`)(...names.map((n) => globals[n])) as LiveJs;
}

describe('console live client (assets/live.js)', () => {
  let api: jest.Mock;
  let toLogin: jest.Mock;
  let live: LiveJs;

  beforeEach(() => {
    jest.useFakeTimers();
    FakeWebSocket.instances = [];
    FakeEventSource.instances = [];
    api = jest.fn(async () => ({ data: [] }));
    toLogin = jest.fn();
    live = loadLiveJs({ location: { protocol: 'http:', host: 'hub:3000' }, WebSocket: FakeWebSocket, EventSource: FakeEventSource, setTimeout, clearTimeout, api, toLogin });
  });
  afterEach(() => jest.useRealTimers());

  describe('subscribeLive (WebSocket)', () => {
    const start = (states: string[]) => live.subscribeLive({ sessions: 'all', media: ['events'], onMessage: () => undefined, onState: (s) => states.push(s) });

    it('subscribes again, resuming, when the hub answers live_unavailable (instead of staying silent)', async () => {
      const states: string[] = [];
      const stop = start(states);
      const first = FakeWebSocket.instances[0];
      first.emit('open');
      first.message({ type: 'subscribed', id: 'console' });
      first.message({ type: 'event', sub: 'console', id: '7-0', data: {} });
      // The connection drops; the next one's subscribe is refused for a moment.
      first.emit('close', { code: 1006 });
      await jest.advanceTimersByTimeAsync(500);
      const second = FakeWebSocket.instances[1];
      second.emit('open');
      second.message({ type: 'error', code: 'live_unavailable', message: 'try again', id: 'console' });
      expect(second.closed).toBe(true);
      second.emit('close', { code: 1005 });
      await jest.advanceTimersByTimeAsync(1000);
      const third = FakeWebSocket.instances[2];
      expect(third).toBeDefined();
      third.emit('open');
      expect(third.sent).toEqual([{ type: 'subscribe', id: 'console', sessions: 'all', media: ['events'], resume_from: '7-0' }]);
      third.message({ type: 'subscribed', id: 'console' });
      expect(states.at(-1)).toBe('live');
      stop();
    });

    it('goes to the login page when the hub closes the connection because the login ended (4401)', async () => {
      const stop = start([]);
      FakeWebSocket.instances[0].emit('open');
      FakeWebSocket.instances[0].emit('close', { code: 4401 });
      await jest.advanceTimersByTimeAsync(20_000);
      expect(toLogin).toHaveBeenCalledTimes(1);
      expect(FakeWebSocket.instances).toHaveLength(1);
      stop();
    });

    it('asks the REST API whether the login holds when an upgrade is refused (the browser hides the 401)', async () => {
      const stop = start([]);
      FakeWebSocket.instances[0].emit('close', { code: 1006 });
      expect(api).toHaveBeenCalledWith('/sessions?limit=1');
      stop();
    });
  });

  describe('followText (SSE)', () => {
    it('opens a new stream from the last id, with backoff, after EventSource gave up (an error status); leaves its own retries alone', async () => {
      const states: string[] = [];
      const got: string[] = [];
      const beforeReopen = jest.fn(async () => true);
      const stop = live.followText({ url: '/api/v1/sessions/s/live?types=events', listeners: { event: (ev) => got.push(String(ev.lastEventId)) }, onState: (s) => states.push(s), beforeReopen });
      const first = FakeEventSource.instances[0];
      first.emit('open');
      first.emit('event', { lastEventId: '5-0', data: '{}' });
      // A dropped stream: EventSource reconnects by itself (readyState CONNECTING).
      first.emit('error');
      await jest.advanceTimersByTimeAsync(60_000);
      expect(FakeEventSource.instances).toHaveLength(1);
      // Its reconnect answered 503: it gives up for good (CLOSED).
      first.readyState = FakeEventSource.CLOSED;
      first.emit('error');
      expect(states.at(-1)).toBe('reconnecting');
      await jest.advanceTimersByTimeAsync(499);
      expect(FakeEventSource.instances).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(beforeReopen).toHaveBeenCalledTimes(1);
      const second = FakeEventSource.instances[1];
      expect(second.url).toBe('/api/v1/sessions/s/live?types=events&last_event_id=5-0');
      // It fails too: the next attempt waits twice as long.
      second.readyState = FakeEventSource.CLOSED;
      second.emit('error');
      await jest.advanceTimersByTimeAsync(999);
      expect(FakeEventSource.instances).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(1);
      const third = FakeEventSource.instances[2];
      third.emit('open');
      expect(states.at(-1)).toBe('live');
      third.emit('event', { lastEventId: '6-0', data: '{}' });
      expect(got).toEqual(['5-0', '6-0']);
      stop();
      expect(third.readyState).toBe(FakeEventSource.CLOSED);
    });

    it('does not reopen when beforeReopen says the stream is no longer wanted (the session ended)', async () => {
      const stop = live.followText({ url: '/x', listeners: {}, onState: () => undefined, beforeReopen: async () => false });
      FakeEventSource.instances[0].readyState = FakeEventSource.CLOSED;
      FakeEventSource.instances[0].emit('error');
      await jest.advanceTimersByTimeAsync(60_000);
      expect(FakeEventSource.instances).toHaveLength(1);
      stop();
    });
  });
});
