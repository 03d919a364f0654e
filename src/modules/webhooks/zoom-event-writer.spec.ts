import type { StoredZoomEventInput } from '../sessions';
import { UnstorableEventError, ZoomEventWriter } from './zoom-event-writer';

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
