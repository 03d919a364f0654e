import type { IncomingHttpHeaders } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { ApiCaller } from './api-caller';
import { safeEqual } from './safe-compare';

/**
 * The session console's (src/modules/console) browser login, shared by everything that
 * accepts it: the console's own pages, the API key guard (the console's client calls the
 * public REST API with it) and the live API (SSE and WebSocket upgrades).
 *
 * A login creates a server-side session: a random 256-bit id in an `HttpOnly;
 * SameSite=Strict` cookie, and in Redis (under the hash of the id) the username and a
 * per-session CSRF token. The rules a request must pass to be authenticated by it are
 * the pure functions below, so the guard, the live API and the console apply the same.
 */

/** The cookie over HTTPS: `__Host-` pins it to this exact origin (Secure, Path=/, no Domain). */
export const CONSOLE_COOKIE_SECURE = '__Host-rtms_console';
/** The cookie over plain HTTP (development, the demo, tests): browsers refuse `__Host-` without Secure. */
export const CONSOLE_COOKIE_PLAIN = 'rtms_console';
/** The header a state change must carry, equal to the session's CSRF token (a cross-site form cannot set it). */
export const CSRF_HEADER = 'x-csrf-token';

/** What Redis keeps per console session (never the session id itself). */
export interface ConsoleSessionRecord {
  username: string;
  csrf: string;
  created_at: string;
}

/** A console session a request authenticated with. */
export interface ConsoleSession extends ConsoleSessionRecord {
  /** The cookie's value: the session id. Only for logout and fingerprints; never logged. */
  id: string;
}

/** A new random session id or CSRF token: 256 bits, URL-safe. */
export function newConsoleSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The Redis key of a session: its id's hash, so a Redis dump holds no usable cookie. */
export function consoleSessionKey(queuePrefix: string, id: string): string {
  return `${queuePrefix}:console:session:${createHash('sha256').update(id, 'utf8').digest('hex')}`;
}

/** Names the session in logs and on rows it creates (legal hold `placed_by` …): derived from the id, never the id. */
export function consoleFingerprint(id: string): string {
  return createHash('sha256').update(`console:${id}`, 'utf8').digest('hex').slice(0, 16);
}

/** How the console caller appears to API handlers: an unscoped admin named after the console user. */
export function consoleCaller(session: Pick<ConsoleSession, 'id' | 'username'>): ApiCaller {
  return { name: `console:${session.username}`, role: 'admin', owner: null, fingerprint: consoleFingerprint(session.id) };
}

/** Cookies of a request (`name=value; …`); the first of a repeated name wins. Values are not URL-decoded (ours are base64url). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const raw of header.split(';')) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/** The console session id a request carries, or null. Only well-formed ids (43 base64url characters) are looked up. */
export function readConsoleCookie(headers: IncomingHttpHeaders): string | null {
  const cookies = parseCookies(headers.cookie);
  const id = cookies.get(CONSOLE_COOKIE_SECURE) ?? cookies.get(CONSOLE_COOKIE_PLAIN);
  return id !== undefined && /^[A-Za-z0-9_-]{43}$/.test(id) ? id : null;
}

/** Set-Cookie for a session id (or, with an empty id, its removal). */
export function consoleCookieHeader(id: string, opts: { secure: boolean; maxAgeSec: number }): string {
  const name = opts.secure ? CONSOLE_COOKIE_SECURE : CONSOLE_COOKIE_PLAIN;
  const attrs = [`${name}=${id}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${id ? opts.maxAgeSec : 0}`];
  if (opts.secure) attrs.push('Secure');
  return attrs.join('; ');
}

/** What the same-origin rules read from a request. */
export interface ConsoleRequestFacts {
  method: string;
  headers: IncomingHttpHeaders;
  /** `scheme://host[:port]` the request was addressed to (trust proxy applied), or null when unknown. */
  origin: string | null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * Why a request may not use the console cookie, or null. The cookie is `SameSite=Strict`
 * already; these rules do not rely on it alone:
 * - the browser must not say the request comes from elsewhere: `Sec-Fetch-Site` absent
 *   or `same-origin` (a cross-site or same-site-but-other-origin page is refused);
 * - `Origin`, when sent, must be the hub's own origin (covers WebSocket upgrades and
 *   browsers without Fetch Metadata);
 * - any method other than GET/HEAD must carry `X-CSRF-Token` equal to the session's
 *   token: a header no cross-site form or no-cors request can set.
 */
export function consoleRequestRefusal(req: ConsoleRequestFacts, csrfToken: string): string | null {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `Sec-Fetch-Site ${JSON.stringify(site)}`;
  const origin = req.headers.origin;
  if (origin !== undefined && (req.origin === null || origin.toLowerCase() !== req.origin.toLowerCase())) return `Origin ${JSON.stringify(origin)} is not this hub`;
  if (SAFE_METHODS.has(req.method.toUpperCase())) return null;
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || sent.length === 0) return `${req.method} without ${CSRF_HEADER}`;
  if (!safeEqual(sent, csrfToken)) return `${req.method} with a wrong ${CSRF_HEADER}`;
  return null;
}

/** The origin a plain Node request (a WebSocket upgrade) was addressed to, from its Host header. */
export function originOfUpgrade(headers: IncomingHttpHeaders, encrypted: boolean): string | null {
  const forwardedProto = typeof headers['x-forwarded-proto'] === 'string' ? headers['x-forwarded-proto'].split(',')[0].trim() : undefined;
  const host = typeof headers['x-forwarded-host'] === 'string' ? headers['x-forwarded-host'].split(',')[0].trim() : headers.host;
  if (!host) return null;
  const scheme = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : encrypted ? 'https' : 'http';
  return `${scheme}://${host}`;
}
