import * as http from 'node:http';
import * as https from 'node:https';
import { LookupFunction } from 'node:net';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { replaceUnstorableText } from '../../../common/json/json-text';
import { resolvePublicAddress } from './endpoint-url';

/** The first bytes of a response body kept in the delivery log. */
export const RESPONSE_BODY_LIMIT = 4096;

export interface SendResult {
  /** The HTTP status, or null when no answer came. */
  statusCode: number | null;
  /** The first 4 KB of the response body (UTF-8, NUL replaced by U+FFFD), when there was an answer. */
  responseBody: string | null;
  latencyMs: number;
  /** Why no usable answer came (refused address, timeout, connection error). */
  error: string | null;
  /** A 429's Retry-After, in ms from now (seconds or an HTTP date); absent otherwise. */
  retryAfterMs?: number;
}

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivate: boolean;
}

/**
 * POSTs one webhook. The host is resolved and checked before the request and the socket
 * connects only to that checked address (no second lookup a rebinding DNS server could
 * answer differently); redirects are never followed; the whole exchange, the lookup
 * included, is bounded by the timeout. Keep-alive agents reuse connections to busy endpoints.
 */
@Injectable()
export class WebhookHttpSender implements OnModuleDestroy {
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  async send(req: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const done = (r: Omit<SendResult, 'latencyMs'>): SendResult => ({ ...r, latencyMs: Math.round(performance.now() - started) });
    const url = new URL(req.url);
    // One deadline from the start: a DNS server that does not answer must not hold the
    // attempt (and its worker slot) beyond WEBHOOK_TIMEOUT_MS; the request gets what is left.
    const deadline = started + req.timeoutMs;
    const target = await beforeDeadline(resolvePublicAddress(url.hostname, req.allowPrivate), req.timeoutMs);
    if (target === TIMED_OUT) return done({ statusCode: null, responseBody: null, error: `timed out after ${req.timeoutMs} ms (resolving ${url.hostname})` });
    if ('refusal' in target) return done({ statusCode: null, responseBody: null, error: `${target.retryable ? 'not sent' : 'refused'}: ${target.refusal}` });
    const remainingMs = Math.floor(deadline - performance.now());
    if (remainingMs <= 0) return done({ statusCode: null, responseBody: null, error: `timed out after ${req.timeoutMs} ms (resolving ${url.hostname})` });
    // Connect to the address just checked, whatever the name resolves to a moment later.
    const pinned: LookupFunction = (_host, options, cb) => {
      if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [target]);
      else cb(null, target.address, target.family);
    };
    const isHttps = url.protocol === 'https:';
    const client = isHttps ? https : http;
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (r: Omit<SendResult, 'latencyMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(done(r));
      };
      const request = client.request(
        url,
        {
          method: 'POST',
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          lookup: pinned,
          headers: { ...req.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(req.body).toString() },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on('data', (chunk: Buffer) => {
            if (kept < RESPONSE_BODY_LIMIT) {
              chunks.push(chunk.subarray(0, RESPONSE_BODY_LIMIT - kept));
              kept += Math.min(chunk.length, RESPONSE_BODY_LIMIT - kept);
            }
          });
          const retryAfterMs = res.statusCode === 429 ? parseRetryAfter(res.headers['retry-after']) : null;
          res.on('end', () =>
            finish({ statusCode: res.statusCode ?? null, responseBody: storableText(Buffer.concat(chunks).toString('utf8')), error: null, ...(retryAfterMs !== null ? { retryAfterMs } : {}) }),
          );
          res.on('error', (err) => finish({ statusCode: res.statusCode ?? null, responseBody: storableText(Buffer.concat(chunks).toString('utf8')), error: storableText(`response: ${err.message}`) }));
        },
      );
      const timer = setTimeout(() => {
        finish({ statusCode: null, responseBody: null, error: `timed out after ${req.timeoutMs} ms` });
        request.destroy(new Error('timeout'));
      }, remainingMs);
      request.on('error', (err: NodeJS.ErrnoException) => finish({ statusCode: null, responseBody: null, error: storableText(err.code ?? err.message) }));
      request.end(req.body);
    });
  }

  onModuleDestroy(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }
}

/**
 * A Retry-After header in ms from now: delta-seconds or an HTTP date (RFC 9110 10.2.3);
 * null when absent or unreadable. A date in the past is 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return null;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const TIMED_OUT = Symbol('timed out');

/** `p`, or TIMED_OUT once `ms` have passed (the timer cleared either way; `p` is not cancelled). */
function beforeDeadline<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Text the receiver controls goes into Postgres text columns, which refuse NUL: one NUL
 * would fail the whole attempt write (and every other attempt in its batch), the message
 * would be retried and resent without end. NUL becomes U+FFFD; nothing else changes
 * (a decoded UTF-8 buffer holds no lone surrogate).
 */
function storableText(s: string): string {
  return replaceUnstorableText(s).value as string;
}
