import { createServer, IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { waitFor, WaitOptions } from './wait-for';

/** One request the receiver got, as it arrived. */
export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The standard-webhooks headers (empty strings when absent). */
  webhookId: string;
  webhookTimestamp: string;
  webhookSignature: string;
  /** The raw body, exactly as sent (what a signature covers). */
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  receivedAt: number;
  /** What the receiver answered (null: it hung). */
  answeredWith: number | null;
}

/** How to answer one request: a status (after an optional delay, with an optional body and headers), or never. */
export type WebhookReply = { status: number; body?: string; delayMs?: number; headers?: Record<string, string> } | { hang: true };

/**
 * A local HTTP endpoint for webhook tests (node:http on 127.0.0.1, an ephemeral port). It
 * records every request and answers by a programmable plan: replies queued with `plan`
 * (or the helpers) are used once each, in order; then `fallback` (200 by default).
 * Hanging requests are cut when the receiver closes.
 */
export class WebhookReceiver {
  readonly requests: ReceivedWebhook[] = [];
  private queue: WebhookReply[] = [];
  private fallback: WebhookReply = { status: 200, body: 'ok' };
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}`);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => receiver.handle(req.method ?? '', req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    return receiver;
  }

  /** A URL on this receiver (path `/hook` by default). */
  url(path = '/hook'): string {
    return `${this.baseUrl}${path}`;
  }

  /** Queues replies, used once each before the fallback. */
  plan(...replies: WebhookReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Answer every request (after the queued replies) with this. */
  always(reply: WebhookReply): this {
    this.fallback = reply;
    return this;
  }

  /** Answer `status` from now on (clears queued replies). */
  answer(status: number, body?: string): this {
    this.queue = [];
    return this.always({ status, body });
  }

  /** Fail the next `n` requests with `status` (500 by default), then the fallback (200 unless changed). */
  failTimes(n: number, status = 500): this {
    return this.plan(...Array.from({ length: n }, () => ({ status, body: `planned failure ${status}` })));
  }

  /** Never answer the next request (or every request, with `always`). */
  hangNext(): this {
    return this.plan({ hang: true });
  }

  /** Answer the next request after `delayMs`. */
  slowNext(delayMs: number, status = 200): this {
    return this.plan({ status, delayMs });
  }

  /** Forgets the requests and the plan (the fallback goes back to 200). */
  reset(): this {
    this.requests.length = 0;
    this.queue = [];
    this.fallback = { status: 200, body: 'ok' };
    return this;
  }

  /** The requests for one message (one `webhook-id`), in arrival order. */
  forMessage(webhookId: string): ReceivedWebhook[] {
    return this.requests.filter((r) => r.webhookId === webhookId);
  }

  /** Waits until `probe` holds over the requests received so far (or at least `n` have arrived). */
  async waitFor(probe: number | ((requests: ReceivedWebhook[]) => boolean), opts: WaitOptions = {}): Promise<ReceivedWebhook[]> {
    const test = typeof probe === 'number' ? (r: ReceivedWebhook[]) => r.length >= probe : probe;
    await waitFor(() => test(this.requests), { what: 'webhook requests at the receiver', ...opts });
    return this.requests;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(method: string, path: string, headers: IncomingHttpHeaders, body: string, res: ServerResponse): void {
    const reply = this.queue.shift() ?? this.fallback;
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const header = (name: string) => (typeof headers[name] === 'string' ? (headers[name] as string) : '');
    this.requests.push({
      method,
      path,
      headers,
      webhookId: header('webhook-id'),
      webhookTimestamp: header('webhook-timestamp'),
      webhookSignature: header('webhook-signature'),
      body,
      json,
      receivedAt: Date.now(),
      answeredWith: 'hang' in reply ? null : reply.status,
    });
    if ('hang' in reply) return;
    const send = () => {
      if (!res.destroyed) res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers }).end(reply.body ?? '');
    };
    if (!reply.delayMs) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      send();
    }, reply.delayMs);
    this.timers.add(timer);
  }
}
