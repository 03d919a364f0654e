/** Signed webhook delivery with Zoom's timeout and retry schedule. */
import * as http from 'http';
import * as https from 'https';
import { webhookSignature, urlValidationToken } from './signing';
import { parseJson, isRecord } from './http-util';
import type { DeliveredWebhook, UrlValidationResult } from './types';

export interface WebhookSenderOptions {
  secretToken: string;
  timeoutMs: number;
  retryDelaysMs: number[];
  log: (line: string) => void;
}

export interface SendOptions {
  /** Deliver this many copies (duplicate delivery fault). */
  copies?: number;
  /** Wait this long before the first attempt (late webhook fault). */
  delayMs?: number;
  /** Do not mirror to the event WebSocket. */
  noEventWs?: boolean;
  /** Sign with this secret instead (e.g. a rotated or wrong one). */
  secretToken?: string;
}

interface PostResult {
  status: number | null;
  body: string;
  error?: string;
  latencyMs: number;
}

export class WebhookSender {
  target: string | null = null;
  readonly log: DeliveredWebhook[] = [];
  private nextId = 1;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<http.ClientRequest>();
  private closed = false;
  /** Called once per event (not per attempt/copy) with the exact body string. */
  onEvent?: (event: string, body: string) => void;
  /** Faults consumed by the next sends. */
  pendingCopies = 0;
  pendingCopiesCount = 0;
  pendingDelayMs = 0;
  pendingDelayCount = 0;

  constructor(private readonly opts: WebhookSenderOptions) {}

  /** Build the envelope `{event, payload, event_ts}` and deliver it; returns the body sent. */
  send(event: string, payload: Record<string, unknown>, o: SendOptions = {}): string {
    const body = JSON.stringify({ event, payload, event_ts: Date.now() });
    this.sendRaw(event, body, o);
    return body;
  }

  sendRaw(event: string, body: string, o: SendOptions = {}): void {
    if (this.closed) return;
    if (!o.noEventWs) this.onEvent?.(event, body);
    let copies = o.copies ?? 1;
    if (this.pendingCopiesCount > 0) {
      this.pendingCopiesCount--;
      copies = Math.max(copies, this.pendingCopies);
    }
    let delay = o.delayMs ?? 0;
    if (this.pendingDelayCount > 0) {
      this.pendingDelayCount--;
      delay = Math.max(delay, this.pendingDelayMs);
    }
    const url = this.target;
    if (!url) return;
    for (let c = 0; c < copies; c++) {
      const id = this.nextId++;
      this.later(delay, () => void this.attempt(id, event, body, url, 1, o.secretToken ?? this.opts.secretToken));
    }
  }

  private later(ms: number, fn: () => void): void {
    if (this.closed) return;
    if (ms <= 0) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async attempt(id: number, event: string, body: string, url: string, attempt: number, secret: string): Promise<void> {
    if (this.closed) return;
    const ts = Math.floor(Date.now() / 1000);
    const r = await this.post(url, body, {
      'x-zm-signature': webhookSignature(secret, ts, body),
      'x-zm-request-timestamp': String(ts),
    });
    this.log.push({ deliveryId: id, event, body, url, attempt, status: r.status, error: r.error, latencyMs: r.latencyMs, at: Date.now() });
    this.opts.log(`webhook ${event} #${id} attempt ${attempt} → ${r.status ?? r.error}`);
    const ok = r.status !== null && r.status >= 200 && r.status < 300;
    if (!ok && attempt <= this.opts.retryDelaysMs.length) {
      this.later(this.opts.retryDelaysMs[attempt - 1], () => void this.attempt(id, event, body, url, attempt + 1, secret));
    }
  }

  post(url: string, body: string, extraHeaders: Record<string, string>): Promise<PostResult> {
    const started = Date.now();
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: Omit<PostResult, 'latencyMs'>) => {
        if (done) return;
        done = true;
        this.inflight.delete(req);
        resolve({ ...r, latencyMs: Date.now() - started });
      };
      const u = new URL(url);
      const mod = u.protocol === 'https:' ? https : http;
      const req = mod.request(
        u,
        {
          method: 'POST',
          agent: false,
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'Zoom Marketplace/1.0a',
            connection: 'close',
            ...extraHeaders,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => finish({ status: res.statusCode ?? null, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => finish({ status: null, body: '', error: e.message }));
        },
      );
      this.inflight.add(req);
      req.setTimeout(this.opts.timeoutMs, () => {
        finish({ status: null, body: '', error: 'timeout' });
        req.destroy();
      });
      req.on('error', (e) => finish({ status: null, body: '', error: e.message }));
      req.end(body);
    });
  }

  /** Send `endpoint.url_validation` to `url` (default: the target) and check the answer; the log entry says whether it passed. */
  async validateUrl(plainToken: string, url: string | null = this.target): Promise<UrlValidationResult> {
    if (!url) throw new Error('no webhook target set');
    const body = JSON.stringify({ payload: { plainToken }, event_ts: Date.now(), event: 'endpoint.url_validation' });
    const ts = Math.floor(Date.now() / 1000);
    const r = await this.post(url, body, {
      'x-zm-signature': webhookSignature(this.opts.secretToken, ts, body),
      'x-zm-request-timestamp': String(ts),
    });
    const parsed = parseJson(r.body);
    const ok =
      r.status === 200 &&
      isRecord(parsed) &&
      parsed.plainToken === plainToken &&
      parsed.encryptedToken === urlValidationToken(this.opts.secretToken, plainToken);
    this.log.push({ deliveryId: this.nextId++, event: 'endpoint.url_validation', body, url, attempt: 1, status: r.status, error: r.error, latencyMs: r.latencyMs, at: Date.now(), validated: ok });
    this.opts.log(`url validation of ${url} → ${r.status ?? r.error} (${ok ? 'valid' : 'NOT valid'})`);
    return { ok, status: r.status, body: parsed ?? r.body, ...(r.error ? { error: r.error } : {}) };
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const r of this.inflight) r.destroy();
    this.inflight.clear();
  }
}
