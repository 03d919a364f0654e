import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../config/app.config';
import { ZoomTransportError } from '../zoom-errors';

export interface ZoomResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined when there is none / it is not JSON. */
  json: unknown;
}

export interface ZoomRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  url: string;
  /** Short name for errors and logs, e.g. "token refresh". Never a URL with secrets. */
  operation: string;
  bearer?: string;
  basic?: { id: string; secret: string };
  form?: Record<string, string>;
  json?: unknown;
}

/** Zoom's error fields: REST `{code, message}`, OAuth `{reason, error, code?}`. */
export function zoomErrorOf(body: unknown): { code?: number | string; message: string; error?: string } {
  if (typeof body !== 'object' || body === null) return { message: 'no error body' };
  const b = body as Record<string, unknown>;
  const code = typeof b.code === 'number' || typeof b.code === 'string' ? b.code : undefined;
  const error = typeof b.error === 'string' ? b.error : undefined;
  const raw = typeof b.message === 'string' ? b.message : typeof b.reason === 'string' ? b.reason : (error ?? 'no message');
  // Zoom's messages are short; cap them so a misbehaving server cannot flood rows or logs.
  return { code, error, message: raw.slice(0, 300) };
}

/** What a job records on its row about one Zoom call that did not succeed. */
export interface ZoomCallOutcome {
  zoomStatus?: number | null;
  zoomCode?: string | null;
  zoomMessage?: string | null;
  error?: string | null;
}

/** Parses Retry-After (seconds or an HTTP date) into whole seconds. */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | undefined {
  const raw = headers.get('retry-after');
  if (!raw) return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The one HTTP client for Zoom (OAuth and REST), on Node's fetch with a timeout. It
 * never throws on an HTTP status: callers decide what a 4xx means. Network failures and
 * timeouts become a retryable ZoomTransportError. Nothing here logs.
 */
@Injectable()
export class ZoomHttpClient {
  private readonly timeoutMs: number;

  constructor(config: ConfigService<AppConfig, true>) {
    this.timeoutMs = config.get('zoom', { infer: true }).httpTimeoutMs;
  }

  async send(req: ZoomRequest): Promise<ZoomResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | undefined;
    if (req.bearer) headers.authorization = `Bearer ${req.bearer}`;
    if (req.basic) headers.authorization = 'Basic ' + Buffer.from(`${req.basic.id}:${req.basic.secret}`, 'utf8').toString('base64');
    if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    } else if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    }
    let res: Response;
    try {
      res = await fetch(req.url, { method: req.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      // Not `instanceof Error`: undici's DOMException may come from another realm (jest).
      const name = typeof err === 'object' && err !== null && 'name' in err ? String((err as { name: unknown }).name) : '';
      const detail = name === 'TimeoutError' || name === 'AbortError' ? `timed out after ${this.timeoutMs} ms` : networkDetail(err);
      throw new ZoomTransportError(req.operation, detail);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new ZoomTransportError(req.operation, `response body could not be read (${networkDetail(err)})`, res.status);
    }
    let json: unknown;
    if (text.length > 0) {
      try {
        json = JSON.parse(text) as unknown;
      } catch {
        json = undefined;
      }
    }
    return { status: res.status, headers: res.headers, json };
  }
}

/** A network error's code (ECONNREFUSED, ...) without URLs or payloads. */
function networkDetail(err: unknown): string {
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? (err as { cause?: unknown }).cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : undefined;
  return code ? `network error ${code}` : 'network error';
}
