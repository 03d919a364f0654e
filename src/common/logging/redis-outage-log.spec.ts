import { isRedisConnectionError, RedisOutageLog } from './redis-outage-log';

describe('RedisOutageLog', () => {
  let now = 0;
  let lines: string[];
  let log: RedisOutageLog;
  const a = { name: 'a' };
  const b = { name: 'b' };

  beforeEach(() => {
    jest.useFakeTimers();
    now = 10_000;
    lines = [];
    log = new RedisOutageLog({ warn: (m: unknown) => lines.push(`warn ${String(m)}`), log: (m: unknown) => lines.push(`log ${String(m)}`) }, () => now);
  });
  afterEach(() => {
    log.close();
    jest.useRealTimers();
  });

  const advance = (ms: number) => {
    now += ms;
    jest.advanceTimersByTime(ms);
  };

  it('one line when the first client fails; the end waits for every failed client, or 5 s without an error', () => {
    log.failed(a, 'read ECONNRESET');
    log.failed(b, 'connect ECONNREFUSED');
    for (let i = 0; i < 20; i++) {
      advance(100);
      log.failed(i % 2 ? a : b, 'connect ECONNREFUSED');
    }
    expect(lines).toEqual(['warn redis unreachable: read ECONNRESET']);
    advance(1000);
    log.ready(a);
    advance(3000);
    // b has not said it is back: the outage goes on…
    expect(lines).toHaveLength(1);
    // …until 5 s pass without an error.
    advance(2000);
    expect(lines[1]).toBe('log redis reachable again after 3.0 s; 21 errors suppressed');
  });

  it('ends when all failed clients are ready and no error came for a second', () => {
    log.failed(a, 'read ECONNRESET');
    advance(1500);
    log.failed(b, 'connect ECONNREFUSED');
    advance(1500);
    log.ready(a);
    advance(1500);
    expect(lines).toHaveLength(1);
    log.ready(b);
    advance(999);
    expect(lines).toHaveLength(1);
    advance(1);
    expect(lines).toEqual(['warn redis unreachable: read ECONNRESET', 'log redis reachable again after 4.5 s; 1 error suppressed']);
    // A new failure is a new outage.
    log.failed(a, 'read ECONNRESET');
    expect(lines[2]).toBe('warn redis unreachable: read ECONNRESET');
  });

  it('a reporter that cannot say when it is back (undefined) ends the outage after 5 s without errors', () => {
    log.failed(undefined, 'Connection is closed.');
    advance(4000);
    expect(lines).toHaveLength(1);
    advance(2000);
    expect(lines[1]).toBe('log redis reachable again after 0.0 s; 0 errors suppressed');
  });

  it('knows connection errors from command errors', () => {
    for (const m of ['read ECONNRESET', 'connect ECONNREFUSED 127.0.0.1:6379', 'Connection is closed.', "Stream isn't writeable and enableOfflineQueue options is false", 'Reached the max retries per request limit (which is 1).', "Socket timeout. Expecting data, but didn't receive any in 12000ms.", 'Too many Cluster redirections. Last error: Error: Connection is closed.', 'CLUSTERDOWN The cluster is down'])
      expect(isRedisConnectionError(m)).toBe(true);
    for (const m of ['ERR unknown command', 'WRONGTYPE Operation against a key holding the wrong kind of value', 'Missing lock for job 1. moveToFinished']) expect(isRedisConnectionError(m)).toBe(false);
  });
});
