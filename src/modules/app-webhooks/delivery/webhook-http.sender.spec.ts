import { lookup } from 'node:dns/promises';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { parseRetryAfter, RESPONSE_BODY_LIMIT, SendRequest, WebhookHttpSender } from './webhook-http.sender';

// The real resolver, unless a test makes one lookup slow.
jest.mock('node:dns/promises', () => {
  const actual = jest.requireActual<typeof import('node:dns/promises')>('node:dns/promises');
  return { ...actual, lookup: jest.fn(actual.lookup) };
});

/** The next lookup answers 127.0.0.1 after `ms`. */
function slowLookupOnce(ms: number): void {
  (lookup as unknown as jest.Mock).mockImplementationOnce(() => new Promise((r) => setTimeout(() => r([{ address: '127.0.0.1', family: 4 }]), ms)));
}

describe('WebhookHttpSender', () => {
  let server: Server;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  const requests: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  const sender = new WebhookHttpSender();
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        requests.push({ headers: req.headers, body });
        handler(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    sender.onModuleDestroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  beforeEach(() => {
    requests.length = 0;
    handler = (_req, res) => res.writeHead(200).end('ok');
  });

  const send = (over: Partial<SendRequest> = {}) => sender.send({ url: `${base}/hook`, headers: { 'webhook-id': 'msg_1' }, body: '{"a":1}', timeoutMs: 2000, allowPrivate: true, ...over });

  it('POSTs the body as JSON with the given headers and reports status, body and latency', async () => {
    const r = await send();
    expect(r).toMatchObject({ statusCode: 200, responseBody: 'ok', error: null });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(requests[0]).toEqual({ headers: expect.objectContaining({ 'webhook-id': 'msg_1', 'content-type': 'application/json', 'content-length': '7' }), body: '{"a":1}' });
  });

  it('refuses a loopback address without the development flag, before any connection', async () => {
    const r = await send({ allowPrivate: false });
    expect(r).toMatchObject({ statusCode: null, error: expect.stringMatching(/^refused: host 127\.0\.0\.1 resolves to a non-public address/) });
    expect(requests).toHaveLength(0);
  });

  it('refuses a name that resolves to loopback (checked at send time, not only at creation)', async () => {
    const r = await send({ allowPrivate: false, url: `${base.replace('127.0.0.1', 'localhost')}/hook` });
    expect(r.error).toMatch(/^refused: host localhost resolves to a non-public address/);
    expect(requests).toHaveLength(0);
  });

  it('never follows a redirect: the 3xx is the answer', async () => {
    handler = (_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
    expect(await send()).toMatchObject({ statusCode: 302, error: null });
    expect(requests).toHaveLength(1);
  });

  it('keeps only the first 4 KB of the response body', async () => {
    handler = (_req, res) => res.writeHead(500).end('x'.repeat(20_000));
    const r = await send();
    expect(r.statusCode).toBe(500);
    expect(r.responseBody).toHaveLength(RESPONSE_BODY_LIMIT);
  });

  it('replaces NUL in the response body (Postgres text refuses it: the attempt could not be recorded)', async () => {
    handler = (_req, res) => res.writeHead(200).end(Buffer.from('ok\0'));
    const r = await send();
    expect(r).toMatchObject({ statusCode: 200, responseBody: 'ok\uFFFD', error: null });
    expect(r.responseBody).not.toContain('\u0000');
  });

  it('cuts a receiver that does not answer at the timeout', async () => {
    handler = () => undefined; // never answers
    const r = await send({ timeoutMs: 150 });
    expect(r).toMatchObject({ statusCode: null, error: 'timed out after 150 ms' });
    expect(r.latencyMs).toBeGreaterThanOrEqual(140);
  });

  it('counts a slow DNS lookup in the timeout: a lookup slower than the whole budget ends the attempt at the deadline', async () => {
    slowLookupOnce(600);
    const r = await send({ url: `${base.replace('127.0.0.1', 'slow-dns.test')}/hook`, timeoutMs: 200 });
    expect(r).toMatchObject({ statusCode: null, responseBody: null, error: 'timed out after 200 ms (resolving slow-dns.test)' });
    expect(r.latencyMs).toBeGreaterThanOrEqual(190);
    expect(r.latencyMs).toBeLessThan(500);
    expect(requests).toHaveLength(0);
  });

  it('gives the request only what the lookup left of the timeout', async () => {
    handler = () => undefined; // never answers
    slowLookupOnce(250);
    const r = await send({ url: `${base.replace('127.0.0.1', 'slow-dns.test')}/hook`, timeoutMs: 400 });
    expect(r).toMatchObject({ statusCode: null, error: 'timed out after 400 ms' });
    expect(r.latencyMs).toBeGreaterThanOrEqual(390);
    expect(r.latencyMs).toBeLessThan(600);
  });

  it('reports a lookup that failed for now as not sent (retried), not as a refused address', async () => {
    (lookup as unknown as jest.Mock).mockRejectedValueOnce(Object.assign(new Error('getaddrinfo EAI_AGAIN flaky.test'), { code: 'EAI_AGAIN' }));
    const r = await send({ url: 'http://flaky.test/hook' });
    expect(r).toMatchObject({ statusCode: null, error: 'not sent: host flaky.test could not be resolved now (EAI_AGAIN)' });
  });

  it("reads a 429's Retry-After (seconds or an HTTP date), and only a 429's", async () => {
    handler = (_req, res) => res.writeHead(429, { 'retry-after': '30' }).end('slow down');
    expect(await send()).toMatchObject({ statusCode: 429, retryAfterMs: 30_000 });
    handler = (_req, res) => res.writeHead(503, { 'retry-after': '30' }).end();
    expect(await send()).not.toHaveProperty('retryAfterMs');
    const now = Date.parse('2026-12-02T10:00:00Z');
    expect(parseRetryAfter('Wed, 02 Dec 2026 10:01:30 GMT', now)).toBe(90_000);
    expect(parseRetryAfter('Wed, 02 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });

  it('reports a refused connection as an error, not a status', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await send({ url: `http://127.0.0.1:${port}/` })).toMatchObject({ statusCode: null, error: 'ECONNREFUSED' });
  });
});
