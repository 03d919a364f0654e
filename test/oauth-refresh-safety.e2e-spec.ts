import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { TokenCipher } from '../src/common/crypto/token-cipher';
import { REDIS_CLIENT } from '../src/common/redis/redis.module';
import { parseKeyring } from '../src/config/keyring';
import { QueueName } from '../src/jobs/queue-names';
import { OAuthConnectionsService } from '../src/modules/oauth/oauth-connections.service';
import { OAuthRefreshSweeper } from '../src/modules/oauth/oauth-refresh.sweeper';
import { tokenAad } from '../src/modules/oauth/token-aad';
import { UserGrantStore } from '../src/zoom/auth/user-grant-store';
import { ZoomTokenProvider } from '../src/zoom/auth/zoom-token.provider';
import { connectZoomUser, newZoomUser } from './factories/oauth-connection.factory';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TestApp } from './utils/test-app';
import { waitFor, waitForJobState } from './utils/wait-for';

const REDIRECT_URI = 'https://ctx.hub.example.test/api/v1/oauth/zoom/callback';

interface Row {
  id: string;
  status: string;
  token_version: number;
  access_token_enc: string;
  refresh_token_enc: string;
  last_refreshed_at: Date | null;
}

/**
 * The vault's refresh token is single use at Zoom: what keeps it when a refresher loses its
 * lease, when a connection is deleted under a refresh, when Zoom refuses a revoke for
 * another reason than a dead token, and when the proactive refresh chain breaks.
 */
describe('OAuth vault: refresh leases, revoke refusals, the proactive refresh safety net', () => {
  const ctx = useE2eContext({
    simulator: { redirectUris: [REDIRECT_URI] },
    hub: { api: true, worker: { queues: [QueueName.OAuth], explicit: true } },
    env: () => ({ ZOOM_REDIRECT_URI: REDIRECT_URI, ZOOM_HTTP_TIMEOUT_MS: '2000' }),
    webhooks: false,
  });
  let peer: TestApp; // a second process on the same Postgres + Redis
  let db: DataSource;
  let redis: Redis;
  const cipher = new TokenCipher(parseKeyring(process.env.TOKEN_ENCRYPTION_KEYS));

  const rowById = async (id: string): Promise<Row | undefined> => (await db.query('SELECT * FROM oauth_connections WHERE id = $1', [id]))[0] as Row | undefined;
  const refreshTokenOf = (row: Row) => cipher.decrypt(row.refresh_token_enc, tokenAad(row.id, 'refresh_token'));
  const accessTokenOf = (row: Row) => cipher.decrypt(row.access_token_enc, tokenAad(row.id, 'access_token'));
  const expireSoon = (id: string, inMs: number) => db.query('UPDATE oauth_connections SET expires_at = $2 WHERE id = $1', [id, new Date(Date.now() + inMs)]);
  const redisKeys = (pattern: string) => redis.keys(`*${pattern}`);
  const connect = () => connectZoomUser(ctx.hub, ctx.sim, newZoomUser('refresh_safety'));

  /** Holds the hub's next save of a refreshed pair until `release()`. */
  function holdNextSave(): { started: () => boolean; release: () => void; restore: () => void } {
    const store = ctx.hub.app.get(UserGrantStore);
    const save = store.saveRefreshed.bind(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    const spy = jest.spyOn(store, 'saveRefreshed').mockImplementationOnce(async (...args) => {
      started = true;
      await gate;
      return save(...args);
    });
    return { started: () => started, release, restore: () => spy.mockRestore() };
  }

  beforeAll(async () => {
    peer = await ctx.startApp({ api: false, worker: { queues: [QueueName.OAuth], explicit: true } });
    db = ctx.hub.app.get(DataSource);
    redis = ctx.hub.app.get(REDIS_CLIENT);
    // The sweeper looks at every connection: none left by other files.
    await db.query('DELETE FROM oauth_connections');
  });

  afterEach(() => ctx.sim.faults.clear());

  it('a refresher that loses its lease mid-save costs nothing: the next process stores its stashed pair, never sending the spent refresh token', async () => {
    const id = await connect();
    const before = (await rowById(id))!;
    const spent = refreshTokenOf(before);
    await expireSoon(id, 4 * 60_000);
    const failedBefore = ctx.sim.stats.failedRefreshes;
    const held = holdNextSave();
    try {
      const first = ctx.hub.app.get(ZoomTokenProvider).getAccessToken(id);
      await waitFor(() => held.started(), { what: "the hub's save of the refreshed pair" });
      // Zoom rotated the refresh token; the save hangs (a slow database) and the lease lapses
      // (the hub stalled, or Redis lost the key): another process takes it.
      for (const key of await redisKeys(`oauth:refresh-lock:${id}`)) await redis.del(key);
      const second = await peer.app.get(ZoomTokenProvider).getAccessToken(id);

      expect(ctx.sim.stats.refreshesByToken[spent]).toBe(1);
      expect(ctx.sim.stats.failedRefreshes).toBe(failedBefore); // the spent token never went to Zoom again
      const after = (await rowById(id))!;
      expect(after).toMatchObject({ status: 'active', token_version: before.token_version + 1 });
      expect(accessTokenOf(after)).toBe(second);
      held.release();
      await expect(first).resolves.toBe(second); // the late save lost to the stored version
      expect(await redisKeys(`oauth:refreshed-pending:${id}`)).toEqual([]);
      const me = await fetch(`${ctx.sim.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${second}` } });
      expect(me.status).toBe(200);
    } finally {
      held.restore();
    }
  });

  it('a refresh that ends after its connection was deleted (app_deauthorized) fails as not found and keeps no tokens in Redis', async () => {
    const id = await connect();
    const row = (await rowById(id))!;
    await expireSoon(id, 4 * 60_000);
    const held = holdNextSave();
    try {
      const refresh = ctx.hub.app.get(ZoomTokenProvider).getAccessToken(id).catch((e: unknown) => e);
      await waitFor(() => held.started(), { what: 'the save of the refreshed pair' });
      const zoomUserId = (await db.query('SELECT zoom_user_id FROM oauth_connections WHERE id = $1', [id]))[0].zoom_user_id as string;
      expect(await ctx.hub.app.get(OAuthConnectionsService).deleteConnectionsForZoomUser(zoomUserId)).toBe(1);
      held.release();
      expect(await refresh).toMatchObject({ code: 'connection_not_found' });
      expect(await redisKeys(`oauth:refreshed-pending:${id}`)).toEqual([]);
      expect(await rowById(id)).toBeUndefined();
      expect(ctx.sim.stats.refreshesByToken[refreshTokenOf(row)]).toBe(1);
    } finally {
      held.restore();
    }
  });

  it('DELETE: a revoke Zoom refuses with 400 invalid_client keeps the connection (502); a dead token still counts as revoked', async () => {
    const id = await connect();
    ctx.sim.faults.restError({ status: 400, match: '/oauth/revoke', method: 'POST', body: { reason: 'Invalid client_id or client_secret', error: 'invalid_client' } });
    const refused = await ctx.http().delete(`/api/v1/oauth/zoom/connections/${id}`).set('x-api-key', API_KEY).expect(502);
    expect(refused.body).toMatchObject({ error: 'zoom_request_failed', details: { zoomStatus: 400 } });
    expect(refused.text).not.toContain(refreshTokenOf((await rowById(id))!));
    expect(await rowById(id)).toBeDefined();

    // Zoom ended the grant on its side meanwhile: "Invalid Token!" is as good as revoked.
    ctx.sim.faults.restError({ status: 400, match: '/oauth/revoke', method: 'POST', body: { reason: 'Invalid Token!', error: 'invalid_request' } });
    await ctx.http().delete(`/api/v1/oauth/zoom/connections/${id}`).set('x-api-key', API_KEY).expect(204);
    expect(await rowById(id)).toBeUndefined();
  });

  it('the refresh sweeper restarts a proactive refresh chain whose job is gone, and leaves a live job alone', async () => {
    const id = await connect();
    const queue = ctx.hub.producer.queue(QueueName.OAuth);
    const scheduled = await waitForJobState(queue, `token-refresh-${id}-v1`, 'delayed');
    expect(scheduled.opts.attempts).toBeGreaterThanOrEqual(8);
    const sweeper = ctx.hub.app.get(OAuthRefreshSweeper, { strict: false });

    // Not due yet, its job is waiting: nothing to do.
    await sweeper.sweep();
    expect(await queue.getJobState(`token-refresh-${id}-v1`)).toBe('delayed');

    // The job is gone (it failed for good, or its enqueue failed) and the token runs out.
    await queue.remove(`token-refresh-${id}-v1`);
    await expireSoon(id, 2 * 60_000);
    const before = (await rowById(id))!;
    expect(await sweeper.sweep()).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await rowById(id))?.token_version === before.token_version + 1, { what: 'the re-queued token.refresh' });
    expect(ctx.sim.stats.refreshesByToken[refreshTokenOf(before)]).toBe(1);
    // ... and the chain goes on from there.
    await waitForJobState(queue, `token-refresh-${id}-v${before.token_version + 1}`, 'delayed');
  });

  it('a proactive refresh Zoom throttles waits its Retry-After without using an attempt', async () => {
    const id = await connect();
    const queue = ctx.hub.producer.queue(QueueName.OAuth);
    await expireSoon(id, 2 * 60_000);
    const before = (await rowById(id))!;
    ctx.sim.faults.rest429('/oauth/token', 1, 1);
    const job = await waitForJobState(queue, `token-refresh-${id}-v1`, 'delayed');
    await job.promote();
    await waitFor(async () => (await rowById(id))?.token_version === before.token_version + 1, { what: 'the throttled refresh to go through', timeoutMs: 15_000 });
    const done = await waitForJobState(queue, `token-refresh-${id}-v1`, 'completed');
    expect(done.attemptsMade).toBe(1);
    expect(done.data).toMatchObject({ throttled: 1 });
  });
});
