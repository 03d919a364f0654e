import { createServer, IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface ReceivedWebhook {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How the receiver answers the n-th request (0-based): a status, a delay, or never. */
export type ReceiverAnswer = { status: number; body?: string; delayMs?: number } | 'hang';

/**
 * A local app endpoint for webhook tests: records every request and answers as the test
 * programs it (fail N times, 410, slow, hang). Listens on 127.0.0.1, so the hub needs
 * WEBHOOK_ALLOW_PRIVATE_URLS=true to send to it.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private plan: (n: number, req: ReceivedWebhook) => ReceiverAnswer = () => ({ status: 204 });
  private readonly hanging = new Set<ServerResponse>();
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => receiver.answer({ at: Date.now(), path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Answers request n (0-based, counted over every request received) as `plan` says. */
  answerWith(plan: (n: number, req: ReceivedWebhook) => ReceiverAnswer): void {
    this.plan = plan;
  }

  /** Fails the first `n` requests with `status`, then answers 200. */
  failFirst(n: number, status = 500): void {
    this.answerWith((i) => (i < n ? { status, body: `failure ${i + 1}` } : { status: 200, body: 'ok' }));
  }

  /** The requests whose body is of this event type. */
  ofType(type: string): ReceivedWebhook[] {
    return this.received.filter((r) => (JSON.parse(r.body) as { type?: string }).type === type);
  }

  /** Resolves when `probe` holds for the received list (checked on every request), or rejects at the deadline. */
  until<T>(probe: (received: ReceivedWebhook[]) => T | undefined | false, timeoutMs = 10_000, what = 'webhooks'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const v = probe(this.received);
        if (v !== undefined && v !== false) {
          cleanup();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${this.received.length} request(s)`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: ReceivedWebhook, res: ServerResponse): void {
    const n = this.received.length;
    this.received.push(req);
    for (const w of [...this.waiters]) w();
    const a = this.plan(n, req);
    if (a === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    const send = () => res.writeHead(a.status, { 'content-type': 'text/plain' }).end(a.body ?? '');
    if (a.delayMs) setTimeout(send, a.delayMs);
    else send();
  }
}
