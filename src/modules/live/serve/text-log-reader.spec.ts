import Redis from 'ioredis';
import { LiveSettings } from './live-settings';
import { TextLog } from './text-log';
import { TextLogReader } from './text-log-reader';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A reader whose starting-id lookups the test answers (its read loop is never started). */
function reader() {
  const lookups: Array<{ sessionIds: readonly string[]; answer: Deferred<string[]> }> = [];
  const log = {
    lastIds: (sessionIds: readonly string[]) => {
      const answer = deferred<string[]>();
      lookups.push({ sessionIds, answer });
      return answer.promise;
    },
  } as unknown as TextLog;
  const settings = { keys: { textLog: (s: string) => `t:live:log:${s}` } } as unknown as LiveSettings;
  return { reader: new TextLogReader({} as Redis, settings, log), lookups };
}

describe('TextLogReader.track / untrack', () => {
  it('reads a session once its starting id is known', async () => {
    const { reader: r, lookups } = reader();
    const tracked = r.track(['a', 'b']);
    expect(r.isReading('a')).toBe(false);
    lookups[0].answer.resolve(['1-0', '0-0']);
    await tracked;
    expect(r.isReading('a')).toBe(true);
    expect(r.isReading('b')).toBe(true);
  });

  it('does not read a session untracked while its starting id was being looked up', async () => {
    const { reader: r, lookups } = reader();
    const tracked = r.track(['a', 'b']);
    r.untrack('a');
    lookups[0].answer.resolve(['1-0', '2-0']);
    await tracked;
    expect(r.isReading('a')).toBe(false);
    expect(r.isReading('b')).toBe(true);
  });

  it('shares a running lookup; a session untracked and tracked again waits for a fresh one', async () => {
    const { reader: r, lookups } = reader();
    const first = r.track(['a']);
    const joined = r.track(['a']);
    expect(lookups).toHaveLength(1);
    r.untrack('a');
    const again = r.track(['a']);
    expect(lookups).toHaveLength(2);
    // The stale answer comes first: it must not start the read.
    lookups[0].answer.resolve(['1-0']);
    await Promise.all([first, joined]);
    expect(r.isReading('a')).toBe(false);
    lookups[1].answer.resolve(['5-0']);
    await again;
    expect(r.isReading('a')).toBe(true);
  });

  it('rejects when the lookup fails, and a later track looks again', async () => {
    const { reader: r, lookups } = reader();
    const failed = r.track(['a']);
    lookups[0].answer.reject(new Error('redis down'));
    await expect(failed).rejects.toThrow('redis down');
    expect(r.isReading('a')).toBe(false);
    const retried = r.track(['a']);
    expect(lookups).toHaveLength(2);
    lookups[1].answer.resolve(['3-0']);
    await retried;
    expect(r.isReading('a')).toBe(true);
  });
});
