import type { StoredZoomEventInput } from '../sessions';
import { ENQUEUE_TIMEOUT_MS, UnstorableEventError, ZoomEventWriter } from './zoom-event-writer';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
const input = (key: string, payloadJson = '{}') => ({ source: 'webhook', eventType: 'x', dedupeKey: key, rtmsStreamId: null, eventTs: null, payload: {}, payloadJson }) as unknown as StoredZoomEventInput;

/** Postgres as seen by the writer: a statement with a bad row fails as a whole. */
function fakeEvents(fail: (inputs: StoredZoomEventInput[]) => Error | null) {
  const statements: number[] = [];
  return {
    statements,
    storeZoomEvents: async (inputs: StoredZoomEventInput[]) => {
      statements.push(inputs.length);
      const err = fail(inputs);
      if (err) throw err;
      return inputs.map((i) => `id-${i.dedupeKey}`);
    },
  };
}

describe('ZoomEventWriter group commit', () => {
  const producer = { enqueueBulk: async () => undefined };

  it('one row Postgres refuses fails alone: the group is stored again row by row', async () => {
    const events = fakeEvents((inputs) => (inputs.some((i) => i.payloadJson!.includes('\\u0000')) ? pgError('22P05', 'unsupported Unicode escape sequence') : null));
    const writer = new ZoomEventWriter(events as never, producer as never);
    const results = await Promise.allSettled([writer.store(input('a')), writer.store(input('bad', '{"n":"\\u0000"}')), writer.store(input('c'))]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 'id-a' });
    expect(results[2]).toEqual({ status: 'fulfilled', value: 'id-c' });
    expect(results[1].status).toBe('rejected');
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(UnstorableEventError);
    expect(events.statements).toEqual([3, 1, 1, 1]);
  });

  it('an outage (not a data error) is not retried row by row: every caller gets it', async () => {
    const events = fakeEvents(() => pgError('57P01', 'terminating connection'));
    const writer = new ZoomEventWriter(events as never, producer as never);
    const results = await Promise.allSettled([writer.store(input('a')), writer.store(input('b'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(results.every((r) => !((r as PromiseRejectedResult).reason instanceof UnstorableEventError))).toBe(true);
    expect(events.statements).toEqual([2]);
  });
});

/** A producer whose enqueueBulk answers when the test says: Redis away, as BullMQ's connection sees it (the command waits). */
function heldProducer() {
  const calls: Array<{ ids: string[]; answer: (err?: Error) => void }> = [];
  let holding = true;
  return {
    calls,
    queued: () => calls.flatMap((c) => c.ids),
    release() {
      holding = false;
      for (const c of calls) c.answer();
    },
    enqueueBulk: (_name: string, items: Array<{ data: { eventId: string } }>) =>
      new Promise<void>((resolve, reject) => {
        const call = { ids: items.map((i) => i.data.eventId), answer: (err?: Error) => (err ? reject(err) : resolve()) };
        calls.push(call);
        if (!holding) resolve();
      }),
  };
}

const stored = () => fakeEvents(() => null);
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p.then((v) => ({ v })), new Promise<'late'>((r) => setTimeout(() => r('late'), ms))]);
const flush = () => new Promise((r) => setImmediate(r));

describe('ZoomEventWriter when Redis does not answer', () => {
  it('Redis answering: the event is acknowledged once its job is added (the fast path waits for it)', async () => {
    const producer = heldProducer();
    producer.release();
    const writer = new ZoomEventWriter(stored() as never, producer as never);
    await expect(writer.store(input('a'))).resolves.toBe('id-a');
    expect(producer.queued()).toEqual(['id-a']);
  });

  it(`a stored event is acknowledged within ENQUEUE_TIMEOUT_MS (${ENQUEUE_TIMEOUT_MS} ms) even though its enqueue hangs`, async () => {
    const producer = heldProducer();
    const writer = new ZoomEventWriter(stored() as never, producer as never);
    const started = Date.now();
    // Before the fix the answer waited for Redis (Zoom's deadline is 3 s).
    expect(await within(writer.store(input('a')), 2000)).toEqual({ v: 'id-a' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(ENQUEUE_TIMEOUT_MS - 20);
    expect(Date.now() - started).toBeLessThan(ENQUEUE_TIMEOUT_MS + 400);
    producer.release();
  });

  it('while an enqueue hangs, later events are acknowledged at once with no new command; all are queued once it answers', async () => {
    const producer = heldProducer();
    const writer = new ZoomEventWriter(stored() as never, producer as never);
    await writer.store(input('a'));
    const started = Date.now();
    expect(await within(Promise.all([writer.store(input('b')), writer.store(input('c'))]), 200)).toEqual({ v: ['id-b', 'id-c'] });
    await writer.store(input('d'));
    expect(Date.now() - started).toBeLessThan(200);
    // One command waits for Redis, not one per event.
    expect(producer.calls).toHaveLength(1);
    producer.release();
    for (let i = 0; i < 5 && producer.queued().length < 4; i++) await flush();
    expect(producer.queued()).toEqual(['id-a', 'id-b', 'id-c', 'id-d']);
    // Redis answers again: back to the fast path.
    await writer.store(input('e'));
    expect(producer.queued()).toContain('id-e');
  });

  it('a hanging enqueue that fails in the end (connection closed) is logged; the events stored meanwhile are still queued', async () => {
    const producer = heldProducer();
    const writer = new ZoomEventWriter(stored() as never, producer as never);
    await writer.store(input('a'));
    await writer.store(input('b'));
    producer.calls[0].answer(new Error('Connection is closed.'));
    producer.release();
    for (let i = 0; i < 5 && producer.calls.length < 2; i++) await flush();
    expect(producer.calls.map((c) => c.ids)).toEqual([['id-a'], ['id-b']]);
  });
});

describe('ZoomEventWriter when Redis stops answering in the middle of a burst', () => {
  it('groups sent before the first timed out hang together: one stall, resumed once all of them settled', async () => {
    const producer = heldProducer();
    const writer = new ZoomEventWriter(stored() as never, producer as never);
    // Two groups (two event-loop turns) sent before either timed out.
    const a = writer.store(input('a'));
    await new Promise((r) => setTimeout(r, 50));
    const b = writer.store(input('b'));
    await expect(Promise.all([a, b])).resolves.toEqual(['id-a', 'id-b']);
    expect(producer.calls).toHaveLength(2);
    await writer.store(input('c'));
    expect(producer.calls).toHaveLength(2);
    // The first answers: the second still hangs, so nothing new is sent yet.
    producer.calls[0].answer();
    await flush();
    expect(producer.calls).toHaveLength(2);
    await writer.store(input('d'));
    producer.release();
    for (let i = 0; i < 5 && producer.queued().length < 4; i++) await flush();
    expect(producer.queued()).toEqual(['id-a', 'id-b', 'id-c', 'id-d']);
  });
});
