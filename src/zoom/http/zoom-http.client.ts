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

/** The shortest wait a Retry-After gives: "0", a date in the past or a date within the second would re-run at once. */
export const MIN_RETRY_AFTER_SEC = 1;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must still read. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/** An HTTP-date as ms since the epoch, or undefined when the text is not one (a strict reading: no Date.parse guesses). */
function parseHttpDate(raw: string, now = Date.now()): number | undefined {
  let day: string, month: string, year: number, hh: string, mm: string, ss: string;
  let m = IMF_FIXDATE.exec(raw);
  if (m) {
    [, day, month, , hh, mm, ss] = m;
    year = Number(m[3]);
  } else if ((m = RFC850_DATE.exec(raw))) {
    [, day, month, , hh, mm, ss] = m;
    // A two-digit year more than 50 years ahead is the past century's (RFC 9110 §5.6.7).
    const nowYear = new Date(now).getUTCFullYear();
    year = 2000 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
  } else if ((m = ASCTIME_DATE.exec(raw))) {
    [, month, day, hh, mm, ss] = m;
    year = Number(m[6]);
  } else {
    return undefined;
  }
  const [d, h, min, s] = [Number(day.trim()), Number(hh), Number(mm), Number(ss)];
  const at = Date.UTC(year, MONTHS.indexOf(month), d, h, min, s);
  // Date.UTC rolls 31 Feb over to March: such a date is not a date.
  const check = new Date(at);
  if (check.getUTCDate() !== d || check.getUTCHours() !== h || check.getUTCMinutes() !== min || check.getUTCSeconds() !== s) return undefined;
  return at;
}

/**
 * Parses Retry-After into whole seconds, at least MIN_RETRY_AFTER_SEC: delta-seconds
 * (digits only) or an HTTP-date (RFC 9110 §10.2.3). Anything else — "1.5", "-1", a
 * repeated header ("10, 20" once fetch joined it), text Date.parse would still read — is
 * undefined, so the caller's default wait applies.
 */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | undefined {
  const raw = headers.get('retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Math.max(MIN_RETRY_AFTER_SEC, Number(raw));
  const at = parseHttpDate(raw, now);
  return at === undefined ? undefined : Math.max(MIN_RETRY_AFTER_SEC, Math.ceil((at - now) / 1000));
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
