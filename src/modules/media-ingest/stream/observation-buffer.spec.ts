import { Observation, ObservationBuffer, ObservationBufferHooks } from './observation-buffer';

class Unavailable extends Error {
  code = 'ECONNREFUSED';
}

/** A fake Postgres: writes land in `rows` while it is up, throw while it is down. */
function fakeDb() {
  const db = {
    up: true,
    rows: [] as string[],
    write: (row: string) => async () => {
      await Promise.resolve();
      if (!db.up) throw new Unavailable('connect ECONNREFUSED');
      db.rows.push(row);
    },
  };
  return db;
}

const obs = (kind: string, steps: Array<() => Promise<unknown>>, priority: 'low' | 'high' = 'high'): Observation => ({ kind, priority, steps });

describe('ObservationBuffer', () => {
  let events: string[];
  let hooks: ObservationBufferHooks;

  beforeEach(() => {
    events = [];
    hooks = {
      isUnavailable: (err) => err instanceof Unavailable,
      rejected: (s, k) => events.push(`rejected ${s} ${k}`),
      dropped: (s, k, waiting) => events.push(`dropped ${s} ${k} (${waiting} waiting)`),
      retrying: () => undefined,
      recovered: (s) => events.push(`recovered ${s}`),
    };
  });

  const make = (maxWaiting = 100) => new ObservationBuffer({ maxWaiting, retryBaseMs: 5, retryMaxMs: 20 }, hooks);

  it('writes each stream in arrival order, one observation at a time', async () => {
    const db = fakeDb();
    const buf = make();
    buf.push('s1', obs('join', [db.write('join 1'), db.write('event join')]));
    buf.push('s1', obs('leave', [db.write('leave 1'), db.write('event leave')]));
    buf.push('s1', obs('paused', [db.write('paused')]));
    expect(buf.waiting).toBe(3);
    await expect(buf.settled('s1', 1000)).resolves.toBe(true);
    expect(db.rows).toEqual(['join 1', 'event join', 'leave 1', 'event leave', 'paused']);
    expect(buf.waiting).toBe(0);
  });

  it('while Postgres is down, holds and retries the head; later observations wait behind it; steps already written are not repeated', async () => {
    const db = fakeDb();
    const buf = make();
    let calls = 0;
    // First step lands, then Postgres goes away before the second.
    buf.push('s1', obs('join', [db.write('join 1'), async () => {
      calls++;
      if (calls === 1) db.up = false;
      return db.write('event join')();
    }]));
    buf.push('s1', obs('paused', [db.write('paused')]));
    buf.push('s1', obs('resumed', [db.write('resumed')]));
    await expect(buf.settled('s1', 60)).resolves.toBe(false);
    expect(db.rows).toEqual(['join 1']);
    expect(buf.waiting).toBe(3);
    db.up = true;
    await expect(buf.settled('s1', 1000)).resolves.toBe(true);
    expect(db.rows).toEqual(['join 1', 'event join', 'paused', 'resumed']);
    expect(events).toEqual(['recovered s1']);
  });

  it('a write that fails for another reason is dropped and reported, and the next one goes on', async () => {
    const db = fakeDb();
    const buf = make();
    buf.push('s1', obs('bad', [() => Promise.reject(new Error('violates foreign key constraint'))]));
    buf.push('s1', obs('good', [db.write('good')]));
    await buf.settled('s1', 1000);
    expect(db.rows).toEqual(['good']);
    expect(events).toEqual(['rejected s1 bad']);
  });

  it('bounded: when full, drops the oldest low-priority observation (of any stream), then the oldest, and says so', async () => {
    const db = fakeDb();
    db.up = false;
    const buf = make(4);
    buf.push('s1', obs('join', [db.write('join')]));
    buf.push('s2', obs('note', [db.write('note s2')], 'low'));
    buf.push('s1', obs('note', [db.write('note s1')], 'low'));
    buf.push('s1', obs('leave', [db.write('leave')]));
    await new Promise((r) => setTimeout(r, 10)); // both heads have failed once and wait to retry
    buf.push('s1', obs('paused', [db.write('paused')]));
    buf.push('s1', obs('resumed', [db.write('resumed')]));
    buf.push('s1', obs('paused', [db.write('paused again')]));
    expect(buf.waiting).toBe(4);
    expect(events).toEqual(['dropped s2 note (3 waiting)', 'dropped s1 note (3 waiting)', 'dropped s1 join (3 waiting)']);
    db.up = true;
    expect(await buf.flush(1000)).toBe(0);
    expect(db.rows).toEqual(['leave', 'paused', 'resumed', 'paused again']);
  });

  it('runtime fields coalesce: a keep-alive time merges into the waiting runtime write, a status only into one at the tail', async () => {
    const db = fakeDb();
    db.up = false;
    const buf = make();
    const writes: Array<Record<string, unknown>> = [];
    const write = async (f: Record<string, unknown>) => {
      await db.write('runtime')();
      writes.push({ ...f });
    };
    buf.push('s1', obs('head', [db.write('head')]));
    for (let i = 1; i <= 50; i++) buf.runtime('s1', { lastKeepaliveAt: i }, false, write, 'low');
    expect(buf.waiting).toBe(2);
    buf.runtime('s1', { status: 'active' }, true, write, 'high');
    buf.push('s1', obs('paused', [db.write('paused')]));
    // Behind the pause: a new runtime write, not merged into the one before it.
    buf.runtime('s1', { status: 'interrupted' }, true, write, 'high');
    buf.runtime('s1', { lastKeepaliveAt: 51 }, false, write, 'low');
    expect(buf.waiting).toBe(4);
    db.up = true;
    await buf.settled('s1', 1000);
    expect(db.rows).toEqual(['head', 'runtime', 'paused', 'runtime']);
    expect(writes).toEqual([{ lastKeepaliveAt: 50, status: 'active' }, { status: 'interrupted', lastKeepaliveAt: 51 }]);
  });

  it('close() stops retrying and returns what is lost, per kind', async () => {
    const db = fakeDb();
    db.up = false;
    const buf = make();
    buf.push('s1', obs('event', [db.write('a')]));
    buf.push('s1', obs('event', [db.write('b')]));
    buf.push('s2', obs('end', [db.write('c')]));
    expect(await buf.flush(30)).toBe(3);
    expect(buf.close()).toEqual(new Map([['event', 2], ['end', 1]]));
  });
});
