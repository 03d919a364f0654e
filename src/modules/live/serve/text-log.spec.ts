import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { liveKeys, LOG_EXPIRY_GRACE_MS, TEXT_ENTRY_FIELD } from '../live-protocol';
import { LiveSettings } from './live-settings';
import { TextLog } from './text-log';

const WINDOW_SEC = 300;
/** How long a log outlives its last write. */
const LIFE_MS = WINDOW_SEC * 1000 + LOG_EXPIRY_GRACE_MS;

describe('TextLog.gapAfter (against the local Redis)', () => {
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0', { maxRetriesPerRequest: 1 });
  const prefix = `unit-textlog-${randomUUID().slice(0, 8)}`;
  const settings = { keys: liveKeys(prefix), config: { resumeWindowSec: WINDOW_SEC } } as unknown as LiveSettings;
  const log = new TextLog(redis, settings);
  let n = 0;
  const key = (s: string) => settings.keys.textLog(s);
  const add = async (s: string, id = '*') => (await redis.xadd(key(s), id, TEXT_ENTRY_FIELD, JSON.stringify({ media: 'transcript', session_id: s, ts: 1, data: { text: `t${++n}` } })))!;
  const ms = (id: string) => Number(id.split('-')[0]);

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('no gap when the log holds everything after the resume point', async () => {
    const ids = [await add('a'), await add('a'), await add('a')];
    await expect(log.gapAfter('a', ids[0])).resolves.toBeNull();
    await expect(log.gapAfter('a', ids[2])).resolves.toBeNull();
  });

  it('a gap, from the log start, when the log is gone (it expired, or Redis lost it): what it held after the resume point went with it', async () => {
    const seen = await add('b');
    await add('b');
    await redis.del(key('b'));
    await expect(log.gapAfter('b', seen)).resolves.toEqual({ oldestAvailable: null, fromStart: true });
    // A resume from 0 ("everything there is") has nothing to miss.
    await expect(log.gapAfter('b', '0')).resolves.toBeNull();
  });

  it('a gap when the log expired and the session wrote again: the new log does not reach back to the resume point', async () => {
    // The client got `seen`; the session went quiet past the log's life, the log expired, then it wrote again.
    const now = Date.now();
    const seen = await add('c', `${now - LIFE_MS - 5_000}-0`);
    await add('c', `${now - LIFE_MS - 4_000}-0`);
    await redis.del(key('c'));
    const first = await add('c');
    await expect(log.gapAfter('c', seen)).resolves.toEqual({ oldestAvailable: first, fromStart: false });
  });

  it('no gap for a session whose log began soon after the resume point (it started while the client was away)', async () => {
    const first = await add('d');
    // The last id the client got of another session, a second before this one's first entry.
    const other = `${ms(first) - 1000}-0`;
    await expect(log.gapAfter('d', other)).resolves.toBeNull();
  });

  it('a gap, from the log start, for a resume point beyond every id the log generated', async () => {
    const first = await add('e');
    await add('e');
    await expect(log.gapAfter('e', '9999999999999-0')).resolves.toEqual({ oldestAvailable: first, fromStart: true });
  });

  it('a gap when the log was trimmed past the resume point, or an entry after it was deleted', async () => {
    const ids = [await add('f'), await add('f'), await add('f'), await add('f')];
    await redis.xtrim(key('f'), 'MINID', ids[2]);
    await expect(log.gapAfter('f', ids[0])).resolves.toEqual({ oldestAvailable: ids[2], fromStart: false });
    await expect(log.gapAfter('f', ids[2])).resolves.toBeNull();
    await redis.xdel(key('f'), ids[3]);
    await expect(log.gapAfter('f', ids[2])).resolves.toEqual({ oldestAvailable: ids[2], fromStart: false });
  });

  it('a trimmed-empty log: a gap unless the resume point was its last entry', async () => {
    const ids = [await add('g'), await add('g')];
    await redis.xtrim(key('g'), 'MAXLEN', 0);
    await expect(log.gapAfter('g', ids[0])).resolves.toEqual({ oldestAvailable: null, fromStart: false });
    await expect(log.gapAfter('g', ids[1])).resolves.toBeNull();
  });

  it('without entries-added (Redis < 7) any resume point before the first entry counts as a gap', async () => {
    const first = await add('h');
    const other = `${ms(first) - 1000}-0`;
    const real = redis.xinfo.bind(redis);
    const spy = jest.spyOn(redis, 'xinfo').mockImplementation((async (...args: Parameters<typeof real>) => {
      const info = (await (real as (...a: unknown[]) => Promise<unknown[]>)(...args)) as unknown[];
      const out: unknown[] = [];
      for (let i = 0; i + 1 < info.length; i += 2) if (!['entries-added', 'max-deleted-entry-id', 'recorded-first-entry-id'].includes(info[i] as string)) out.push(info[i], info[i + 1]);
      return out;
    }) as unknown as typeof redis.xinfo);
    try {
      await expect(log.gapAfter('h', other)).resolves.toEqual({ oldestAvailable: first, fromStart: false });
      await expect(log.gapAfter('h', first)).resolves.toBeNull();
    } finally {
      spy.mockRestore();
    }
  });
});
