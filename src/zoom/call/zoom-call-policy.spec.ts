import { ZoomResponse } from '../http/zoom-http.client';
import { ReauthorizationRequiredError, ZoomTransportError } from '../zoom-errors';
import { classify, MAX_RETRY_AFTER_SEC, ZoomCallPolicy, ZoomCallSpec } from './zoom-call-policy';

function answer(status: number, json?: unknown, headers: Record<string, string> = {}): ZoomResponse {
  return { status, json, headers: new Headers(headers) };
}

/** A call whose sends answer from `answers` in order, recording the tokens used. */
function spec(answers: Array<ZoomResponse | Error>, token: Partial<ZoomCallSpec['token']> = {}) {
  const sentWith: string[] = [];
  const events: string[] = [];
  let version = 1;
  const s: ZoomCallSpec = {
    operation: 'RTMS start',
    token: {
      get: token.get ?? (async () => `t${version}`),
      refresh: token.refresh ?? (async (rejected) => {
        events.push(`refresh ${rejected}`);
        version++;
        return `t${version}`;
      }),
    },
    beforeSend: async () => {
      events.push('before');
    },
    send: async (t) => {
      sentWith.push(t);
      const next = answers.shift();
      if (!next) throw new Error('no more answers');
      if (next instanceof Error) throw next;
      return next;
    },
    onUnauthorized: () => events.push('unauthorized'),
  };
  return { s, sentWith, events };
}

describe('ZoomCallPolicy', () => {
  const policy = new ZoomCallPolicy();

  it('returns a 2xx as ok', async () => {
    const { s, sentWith } = spec([answer(202)]);
    await expect(policy.call(s)).resolves.toMatchObject({ outcome: 'ok', response: { status: 202 } });
    expect(sentWith).toEqual(['t1']);
  });

  it('refreshes the token once after a 401 and calls again', async () => {
    const { s, sentWith, events } = spec([answer(401), answer(200)]);
    await expect(policy.call(s)).resolves.toMatchObject({ outcome: 'ok' });
    expect(sentWith).toEqual(['t1', 't2']);
    expect(events).toEqual(['before', 'unauthorized', 'refresh t1', 'before']);
  });

  it('refuses a second 401 instead of refreshing again', async () => {
    const { s, sentWith } = spec([answer(401, { code: 124, message: 'Invalid access token.' }), answer(401, { code: 124, message: 'Invalid access token.' })]);
    const result = await policy.call(s);
    expect(result).toMatchObject({ outcome: 'refused', record: { zoomStatus: 401, zoomCode: '124', zoomMessage: 'Invalid access token.' } });
    expect(sentWith).toHaveLength(2);
  });

  it('honours Retry-After on a 429 and caps it', async () => {
    await expect(policy.call(spec([answer(429, {}, { 'retry-after': '7' })]).s)).resolves.toMatchObject({ outcome: 'throttled', waitSec: 7 });
    await expect(policy.call(spec([answer(429, {}, { 'retry-after': '86400' })]).s)).resolves.toMatchObject({ outcome: 'throttled', waitSec: MAX_RETRY_AFTER_SEC });
    await expect(policy.call(spec([answer(429)]).s)).resolves.toMatchObject({ outcome: 'throttled', waitSec: 1, record: { zoomStatus: 429, error: 'rate limited; retrying after 1 s' } });
  });

  it("treats a 429 from Zoom's token endpoint as throttled, with its Retry-After, not as a retry", async () => {
    // S2S fetch / first token: nothing is sent, the call waits Retry-After without using an attempt.
    const fetch429 = new ZoomTransportError('account_credentials token', 'HTTP 429 rate limited', 429, 120);
    const first = spec([answer(200)], { get: async () => Promise.reject(fetch429) });
    await expect(policy.call(first.s)).resolves.toEqual({
      outcome: 'throttled',
      waitSec: 120,
      record: { zoomStatus: 429, zoomCode: null, error: 'Zoom account_credentials token rate limited; retrying after 120 s' },
    });
    expect(first.sentWith).toEqual([]);
    expect(first.events).toEqual([]);

    // A user token refresh after a 401 that Zoom throttles: same verdict.
    const refresh429 = new ZoomTransportError('token refresh', 'HTTP 429 rate limited', 429, 120);
    const afterRefresh = spec([answer(401)], { refresh: async () => Promise.reject(refresh429) });
    await expect(policy.call(afterRefresh.s)).resolves.toMatchObject({ outcome: 'throttled', waitSec: 120, record: { zoomStatus: 429 } });

    // Capped like a REST 429, and 1 s when Zoom named no Retry-After.
    const long = new ZoomTransportError('token refresh', 'HTTP 429', 429, 86400);
    await expect(policy.call(spec([], { get: async () => Promise.reject(long) }).s)).resolves.toMatchObject({ outcome: 'throttled', waitSec: MAX_RETRY_AFTER_SEC });
    const bare = new ZoomTransportError('token refresh', 'HTTP 429', 429);
    await expect(policy.call(spec([], { get: async () => Promise.reject(bare) }).s)).resolves.toMatchObject({ outcome: 'throttled', waitSec: 1 });

    // A 5xx from the token endpoint stays a retry.
    const down = new ZoomTransportError('token refresh', 'HTTP 503 busy', 503);
    await expect(policy.call(spec([], { get: async () => Promise.reject(down) }).s)).resolves.toMatchObject({ outcome: 'retry', cause: down });
  });

  it('reads an HTTP-date Retry-After', () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    const result = classify(answer(429, undefined, { 'retry-after': at }), 'x');
    expect(result.outcome).toBe('throttled');
    if (result.outcome === 'throttled') expect(result.waitSec).toBeGreaterThanOrEqual(28);
  });

  it.each([['0'], ['1.5'], ['10, 20'], ['-1'], [new Date(Date.now() - 60_000).toUTCString()]])(
    'a 429 whose Retry-After is "%s" waits at least 1 s, never 0 (which re-ran the job at once and used its throttle budget up in milliseconds)',
    (value) => {
      expect(classify(answer(429, {}, { 'retry-after': value }), 'room join')).toMatchObject({ outcome: 'throttled', waitSec: 1 });
    },
  );

  it('a 429 from the token endpoint that names 0 s waits 1 s too', async () => {
    const zero = new ZoomTransportError('token refresh', 'HTTP 429', 429, 0);
    await expect(policy.call(spec([], { get: async () => Promise.reject(zero) }).s)).resolves.toMatchObject({ outcome: 'throttled', waitSec: 1 });
  });

  it('makes 5xx and transport errors retryable', async () => {
    await expect(policy.call(spec([answer(503, { code: 300, message: 'busy' })]).s)).resolves.toEqual({
      outcome: 'retry',
      record: { zoomStatus: 503, zoomCode: '300', zoomMessage: 'busy', error: 'Zoom answered HTTP 503' },
    });
    const transport = new ZoomTransportError('RTMS start', 'network error ECONNREFUSED');
    await expect(policy.call(spec([transport]).s)).resolves.toEqual({ outcome: 'retry', record: { error: transport.message }, cause: transport });
  });

  it('makes any other 4xx final, with Zoom code and message in the record', async () => {
    await expect(policy.call(spec([answer(400, { code: 2308, message: 'RTMS is not enabled' })]).s)).resolves.toMatchObject({
      outcome: 'refused',
      record: { zoomStatus: 400, zoomCode: '2308', zoomMessage: 'RTMS is not enabled', error: 'Zoom refused RTMS start (HTTP 400, code 2308): RTMS is not enabled' },
    });
    await expect(policy.call(spec([answer(404)]).s)).resolves.toMatchObject({ outcome: 'refused', record: { zoomCode: null, error: 'Zoom refused RTMS start (HTTP 404): no error body' } });
  });

  it('separates a token that is unavailable for now from one that is gone', async () => {
    const later = new ZoomTransportError('token refresh', 'timed out after 10000 ms');
    await expect(policy.call(spec([], { get: async () => Promise.reject(later) }).s)).resolves.toMatchObject({ outcome: 'retry', record: { error: later.message } });
    const gone = new ReauthorizationRequiredError('c1');
    const result = await policy.call(spec([answer(401)], { refresh: async () => Promise.reject(gone) }).s);
    expect(result).toMatchObject({ outcome: 'no_token', cause: gone });
  });

  it('lets what beforeSend throws end the call as thrown', async () => {
    const { s, sentWith } = spec([answer(200)]);
    const stop = new Error('deferred');
    s.beforeSend = async () => Promise.reject(stop);
    await expect(policy.call(s)).rejects.toBe(stop);
    expect(sentWith).toEqual([]);
  });

  it('rethrows errors that are not Zoom failures', async () => {
    const bug = new TypeError('bug');
    await expect(policy.call(spec([bug]).s)).rejects.toBe(bug);
  });
});
