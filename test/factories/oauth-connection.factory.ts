import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { SimUser, ZoomSimulator } from '../../src/simulator';
import { query } from '../utils/db';
import { API_KEY, type TestApp } from '../utils/test-app';

let seq = 0;

/** A Zoom user unique to this run (the simulator signs them in at consent). */
export function newZoomUser(prefix = 'e2e_user', fields: Partial<SimUser> = {}): SimUser {
  seq++;
  return { id: `${prefix}_${seq}_${randomBytes(3).toString('hex')}`, email: `u${seq}@example.test`, first_name: 'User', last_name: String(seq), ...fields };
}

export interface OAuthDance {
  /** The hub's answer to the callback (200 with the connection, a redirect, or an error). */
  callback: request.Response;
  /** The hub's answer to /authorize (its 302 to Zoom). */
  authorize: request.Response;
  /** Where the hub sent the browser at Zoom. */
  authorizeUrl: URL;
  /** Where Zoom redirected the browser back to (the hub's public callback URL). */
  callbackUrl: URL;
  /** Path + query of that callback. */
  callbackPath: string;
}

/**
 * The browser-less OAuth dance for `user`: the hub's /authorize → the simulator's
 * consent → the hub's public callback. Returns every step's answer, unchecked past the
 * two redirects.
 */
export async function authorizeZoomUser(hub: TestApp, sim: ZoomSimulator, user: SimUser | null, authorizeQuery = '', apiKey: string = API_KEY): Promise<OAuthDance> {
  sim.setAuthorizingUser(user);
  const authorize = await request(hub.app.getHttpServer()).get(`/api/v1/oauth/zoom/authorize${authorizeQuery}`).set('x-api-key', apiKey).expect(302);
  const authorizeUrl = new URL(authorize.headers.location);
  const consent = await fetch(authorizeUrl, { redirect: 'manual' });
  if (consent.status !== 302) throw new Error(`simulator consent answered ${consent.status}, not a redirect`);
  const callbackUrl = new URL(consent.headers.get('location') ?? '');
  const callbackPath = callbackUrl.pathname + callbackUrl.search;
  // The browser would now load the hub's public callback URL: same path and query.
  const callback = await request(hub.app.getHttpServer()).get(callbackPath);
  return { callback, authorize, authorizeUrl, callbackUrl, callbackPath };
}

/** Connects `user` through the OAuth dance (started with `apiKey`) and returns the new connection's id. */
export async function connectZoomUser(hub: TestApp, sim: ZoomSimulator, user: SimUser, apiKey: string = API_KEY): Promise<string> {
  const { callback } = await authorizeZoomUser(hub, sim, user, '', apiKey);
  if (callback.status !== 200) throw new Error(`OAuth callback answered ${callback.status}: ${callback.text}`);
  return callback.body.connection.id as string;
}

export interface ConnectionRowInput {
  id: string;
  zoomUserId: string;
  zoomAccountId: string;
}

/** Inserts an OAuth connection row with placeholder tokens (for cases that never decrypt them). */
export async function insertOAuthConnection(hub: TestApp, row: ConnectionRowInput): Promise<void> {
  await query(
    hub.app,
    `INSERT INTO oauth_connections (id, zoom_user_id, zoom_account_id, access_token_enc, refresh_token_enc, key_id, expires_at)
     VALUES ($1, $2, $3, 'x', 'x', 'k', now() + interval '1 hour')`,
    [row.id, row.zoomUserId, row.zoomAccountId],
  );
}
