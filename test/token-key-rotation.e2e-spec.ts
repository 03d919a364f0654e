import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { TokenCipher } from '../src/common/crypto/token-cipher';
import { parseKeyring } from '../src/config/keyring';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { QueueName } from '../src/jobs/queue-names';
import { endpointSecretAad } from '../src/modules/app-webhooks/delivery/endpoint-secrets';
import { tokenAad } from '../src/modules/oauth/token-aad';
import { subjectAad } from '../src/modules/retention/erasure/erasure-subject';
import { zoomRoomsPasscodeAad } from '../src/modules/sessions';
import { passcodeAad } from '../src/modules/zoom-rooms/room-dispatch.views';
import { connectZoomUser, newZoomUser } from './factories/oauth-connection.factory';
import { createSession } from './factories/session.factory';
import { useE2eContext } from './utils/e2e-context';
import { nodeArgsFor } from './utils/processes';
import { API_KEY, TestApp } from './utils/test-app';
import { ReceivedWebhook, WebhookReceiver } from './utils/webhook-receiver';

/** The command `npm run tokens:reencrypt` runs (its source: ts-node unless dist/ is fresh). */
const REENCRYPT_COMMAND = 'src/database/reencrypt-secrets.ts';

const REDIRECT_URI = 'https://rotation.hub.example.test/api/v1/oauth/zoom/callback';
// Keys of this file only: rows other e2e files left in the shared database (sealed with
// the test env's key) are opened by neither, so the command must leave them alone.
const KEY_1 = `k1:${randomBytes(32).toString('base64')}`;
const KEY_2 = `k2.2026-12:${randomBytes(32).toString('base64')}`;
const K2_ID = 'k2.2026-12';
const ROOM_PASSCODE = 'room-Pa55!';
const POLICY_PASSCODE = 'policy-Pa55!';
const SUBJECT = '16778240';
/** Tests that run the command: through ts-node it loads every module (tens of seconds on a loaded machine). */
const COMMAND_TEST_MS = 180_000;

/** The kinds the command reports, each with the number of rows this file seals. */
const KINDS = ['oauth_connections', 'webhook_endpoints', 'room_dispatches', 'sessions.capture_policy', 'erasures'] as const;
type Kind = (typeof KINDS)[number];

interface KindLine {
  rewritten: number;
  alreadyCurrent: number;
  failed: number;
  total: number;
}

interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
  kinds: Record<Kind, KindLine>;
}

/** Runs the real command with `keys` as TOKEN_ENCRYPTION_KEYS; never throws on its exit code. */
function reencrypt(keys: string): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      nodeArgsFor(REENCRYPT_COMMAND),
      { env: { ...process.env, TOKEN_ENCRYPTION_KEYS: keys, TS_NODE_TRANSPILE_ONLY: 'true' }, cwd: process.cwd(), timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : NaN) : 0;
        if (err && Number.isNaN(code)) return reject(err);
        const kinds = {} as Record<Kind, KindLine>;
        for (const kind of KINDS) {
          const m = new RegExp(`^  ${kind.replace('.', '\\.')}: (\\d+) rewritten, (\\d+) already current, (\\d+) failed \\(of (\\d+)\\)$`, 'm').exec(stdout);
          if (m) kinds[kind] = { rewritten: Number(m[1]), alreadyCurrent: Number(m[2]), failed: Number(m[3]), total: Number(m[4]) };
        }
        resolve({ code, stdout, stderr, kinds });
      },
    );
  });
}

/**
 * Key rotation (docs/api.md "Key rotation"): every value the hub seals with
 * TOKEN_ENCRYPTION_KEYS — OAuth tokens, webhook endpoint secrets (current and previous),
 * room dispatch passcodes, Zoom Rooms passcodes in capture policies, erasure subjects —
 * is written under [k1], re-sealed by `npm run tokens:reencrypt` under [k2,k1], and then
 * opened with k2 alone.
 */
describe('token key rotation: the re-encrypt command re-seals every sealed value', () => {
  const ctx = useE2eContext({
    simulator: { redirectUris: [REDIRECT_URI] },
    // API only: no worker opens (or re-seals) anything while the keys change under it.
    hub: { api: true },
    env: () => ({ ZOOM_REDIRECT_URI: REDIRECT_URI, TOKEN_ENCRYPTION_KEYS: KEY_1, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' }),
    webhooks: false,
  });
  const api = (app?: TestApp) => ({
    post: (path: string, body: object = {}) => ctx.http(app).post(`/api/v1${path}`).set('x-api-key', API_KEY).send(body),
  });
  let db: DataSource;
  const k2Only = new TokenCipher(parseKeyring(KEY_2));
  let receiver: WebhookReceiver;

  /** What this file sealed: the row ids and the plaintexts. */
  const made = {
    connection: '',
    tokens: { access: '', refresh: '' },
    endpoint: '',
    secret: '',
    previousSecret: '',
    dispatch: '',
    session: '',
    erasure: '',
  };
  const mine = () => [made.connection, made.endpoint, made.dispatch, made.session, made.erasure];

  /** Every envelope this file sealed, as stored now, with the AAD it is bound to and the plaintext it must open to. */
  async function sealedValues(): Promise<Array<{ what: string; envelope: string; aad: string; plain: string }>> {
    const one = async <T>(sql: string, id: string) => ((await db.query(sql, [id])) as T[])[0];
    const c = await one<{ a: string; r: string }>('SELECT access_token_enc AS a, refresh_token_enc AS r FROM oauth_connections WHERE id = $1', made.connection);
    const e = await one<{ s: string; p: string }>('SELECT secret_enc AS s, previous_secret_enc AS p FROM webhook_endpoints WHERE id = $1', made.endpoint);
    const d = await one<{ p: string }>('SELECT passcode_enc AS p FROM room_dispatches WHERE id = $1', made.dispatch);
    const s = await one<{ p: string }>(`SELECT capture_policy #>> '{zoom_rooms,passcode_enc}' AS p FROM sessions WHERE id = $1`, made.session);
    const x = await one<{ p: string }>('SELECT subject_sealed AS p FROM erasures WHERE id = $1', made.erasure);
    return [
      { what: 'oauth access token', envelope: c.a, aad: tokenAad(made.connection, 'access_token'), plain: made.tokens.access },
      { what: 'oauth refresh token', envelope: c.r, aad: tokenAad(made.connection, 'refresh_token'), plain: made.tokens.refresh },
      { what: 'webhook secret', envelope: e.s, aad: endpointSecretAad(made.endpoint, 'secret'), plain: made.secret },
      { what: 'webhook previous secret', envelope: e.p, aad: endpointSecretAad(made.endpoint, 'previous_secret'), plain: made.previousSecret },
      { what: 'room dispatch passcode', envelope: d.p, aad: passcodeAad(made.dispatch), plain: ROOM_PASSCODE },
      { what: 'capture policy passcode', envelope: s.p, aad: zoomRoomsPasscodeAad(made.session), plain: POLICY_PASSCODE },
      { what: 'erasure subject', envelope: x.p, aad: subjectAad(made.erasure), plain: SUBJECT },
    ];
  }
  /** The key id of each sealed value, and oauth_connections.key_id (the key the row says sealed its tokens). */
  async function keyIds(): Promise<Record<string, string | undefined>> {
    const [{ key_id }] = (await db.query('SELECT key_id FROM oauth_connections WHERE id = $1', [made.connection])) as Array<{ key_id: string }>;
    return { ...Object.fromEntries((await sealedValues()).map((v) => [v.what, v.envelope === null ? undefined : TokenCipher.keyIdOf(v.envelope)])), 'oauth key_id column': key_id };
  }
  const allOn = async (keyId: string) => Object.fromEntries(Object.keys(await keyIds()).map((what) => [what, keyId]));

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    // Its own connection: the hub's closes before this file's afterAll runs.
    db = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL ?? '', 1)).initialize();
  });
  afterAll(async () => {
    await receiver.close();
    // Nothing sealed with this file's keys is left for the next file's sweepers.
    for (const [table, id] of [
      ['erasures', made.erasure],
      ['room_dispatches', made.dispatch],
      ['sessions', made.session],
      ['webhook_endpoints', made.endpoint],
      ['oauth_connections', made.connection],
    ]) {
      if (id) await db.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
    }
    await db.destroy();
  });

  it('under [k1]: an OAuth connection, a webhook endpoint with a rotated secret, a room dispatch, a capture policy and an erasure are sealed with k1', async () => {
    made.connection = await connectZoomUser(ctx.hub, ctx.sim, newZoomUser('rotation_user'));
    const k1 = new TokenCipher(parseKeyring(KEY_1));
    const [conn] = (await db.query('SELECT access_token_enc, refresh_token_enc FROM oauth_connections WHERE id = $1', [made.connection])) as Array<{
      access_token_enc: string;
      refresh_token_enc: string;
    }>;
    made.tokens = {
      access: k1.decrypt(conn.access_token_enc, tokenAad(made.connection, 'access_token')),
      refresh: k1.decrypt(conn.refresh_token_enc, tokenAad(made.connection, 'refresh_token')),
    };

    const endpoint = (await api().post('/webhook-endpoints', { url: receiver.url('/rotation'), events: ['*'] }).expect(201)).body as { id: string; secret: string };
    made.endpoint = endpoint.id;
    made.previousSecret = endpoint.secret;
    made.secret = ((await api().post(`/webhook-endpoints/${endpoint.id}/rotate-secret`).expect(200)).body as { secret: string }).secret;

    const meeting = ctx.sim.createMeeting({ passcode: ROOM_PASSCODE, participants: [] });
    const dispatched = await api().post('/zoom-rooms/dispatches', { meeting_number: String(meeting.id), passcode: ROOM_PASSCODE, room_ids: ['rm_rotation_1'], leave_after_seconds: 0 }).expect(202);
    made.dispatch = (dispatched.body.data as Array<{ id: string }>)[0].id;

    const session = await createSession(ctx.hub, {
      meetingId: ctx.sim.createMeeting({ participants: [] }).id,
      capturePolicy: { zoom_rooms: { room_ids: ['rm_rotation_2'], passcode: POLICY_PASSCODE, leave_after_seconds: 0 } },
    });
    made.session = session.id;

    made.erasure = ((await api().post('/erasures', { zoom_user_id: SUBJECT }).expect(202)).body as { id: string }).id;

    const values = await sealedValues();
    expect(values).toHaveLength(7);
    expect(await keyIds()).toEqual(await allOn('k1'));
    for (const v of values) expect({ what: v.what, plain: k1.decrypt(v.envelope, v.aad) }).toEqual({ what: v.what, plain: v.plain });
  });

  it('the command under [k2,k1] re-seals each with k2, reporting per kind; k2 alone opens every one to its original', async () => {
    const run = await reencrypt(`${KEY_2},${KEY_1}`);
    // Every value moved to k2, and k2 alone opens each to what was sealed under k1.
    expect(await keyIds()).toEqual(await allOn(K2_ID));
    const values = await sealedValues();
    for (const v of values) expect({ what: v.what, plain: k2Only.decrypt(v.envelope, v.aad) }).toEqual({ what: v.what, plain: v.plain });

    expect(run.stdout).toContain(`Re-sealed secrets at rest with key "${K2_ID}":`);
    // Exactly this file's rows are rewritten (one per kind). Rows other files left sealed
    // with the test env's key are opened by no key of this ring: reported, not touched.
    for (const kind of KINDS) {
      expect({ kind, ...run.kinds[kind] }).toEqual({ kind, rewritten: 1, alreadyCurrent: 0, failed: expect.any(Number), total: 1 + (run.kinds[kind]?.failed ?? 0) });
    }
    const failed = KINDS.reduce((n, k) => n + (run.kinds[k]?.failed ?? 0), 0);
    expect(run.code).toBe(failed > 0 ? 1 : 0);
    for (const id of mine()) expect(run.stderr).not.toContain(id);
    // Never a value in the output.
    for (const v of values) {
      expect(run.stdout + run.stderr).not.toContain(v.plain);
      expect(run.stdout + run.stderr).not.toContain(v.envelope);
    }
  }, COMMAND_TEST_MS);

  it('a second run finds everything already current and writes nothing', async () => {
    const before = await sealedValues();
    const run = await reencrypt(`${KEY_2},${KEY_1}`);
    for (const kind of KINDS) expect({ kind, rewritten: run.kinds[kind].rewritten, alreadyCurrent: run.kinds[kind].alreadyCurrent }).toEqual({ kind, rewritten: 0, alreadyCurrent: 1 });
    expect(await sealedValues()).toEqual(before);
  }, COMMAND_TEST_MS);

  it('with k1 dropped, the endpoint signs a delivery with both secrets (standardwebhooks verifies each) and its secret rotates again', async () => {
    const withK2 = await ctx.startApp({ api: true, worker: { queues: [QueueName.AppWebhooks], explicit: true } }, { TOKEN_ENCRYPTION_KEYS: KEY_2 });
    const message = (await api(withK2).post(`/webhook-endpoints/${made.endpoint}/test`).expect(202)).body as { id: string };
    await receiver.waitFor((rs) => rs.some((r) => r.webhookId === message.id));
    const [delivered] = receiver.forMessage(message.id);
    const headers = (r: ReceivedWebhook) => ({ 'webhook-id': r.webhookId, 'webhook-timestamp': r.webhookTimestamp, 'webhook-signature': r.webhookSignature });
    expect(delivered.webhookSignature.split(' ')).toHaveLength(2);
    for (const secret of [made.secret, made.previousSecret]) expect(new Webhook(secret).verify(delivered.body, headers(delivered))).toBeTruthy();

    const rotated = (await api(withK2).post(`/webhook-endpoints/${made.endpoint}/rotate-secret`).expect(200)).body as { secret: string };
    const [row] = (await db.query('SELECT previous_secret_enc FROM webhook_endpoints WHERE id = $1', [made.endpoint])) as Array<{ previous_secret_enc: string }>;
    expect(k2Only.decrypt(row.previous_secret_enc, endpointSecretAad(made.endpoint, 'previous_secret'))).toBe(made.secret);
    made.previousSecret = made.secret;
    made.secret = rotated.secret;
    await ctx.stopApp(withK2);
  });

  it('a value no key of the ring opens: the command exits 1 naming its row, never a value, and leaves it as it was', async () => {
    const strayKey = new TokenCipher(parseKeyring(`k0:${randomBytes(32).toString('base64')}`));
    const id = '00000000-0000-4000-8000-0000000000aa';
    const secret = 'whsec_stray-secret-value';
    const sealed = strayKey.encrypt(secret, endpointSecretAad(id, 'secret'));
    await db.query(`INSERT INTO webhook_endpoints (id, url, events, secret_enc, enabled) VALUES ($1, $2, $3, $4, false)`, [id, receiver.url('/stray'), ['*'], sealed]);
    try {
      const run = await reencrypt(`${KEY_2},${KEY_1}`);
      expect(run.code).toBe(1);
      expect(run.kinds.webhook_endpoints.failed).toBeGreaterThanOrEqual(1);
      expect(run.stderr).toMatch(new RegExp(`^webhook_endpoints: rows no key in TOKEN_ENCRYPTION_KEYS opens \\(ids\\): .*${id}`, 'm'));
      expect(run.stdout + run.stderr).not.toContain(secret);
      expect(run.stdout + run.stderr).not.toContain(sealed);
      expect((await db.query('SELECT secret_enc FROM webhook_endpoints WHERE id = $1', [id]))[0].secret_enc).toBe(sealed);
      for (const kind of KINDS) expect(run.kinds[kind].rewritten).toBe(0);
    } finally {
      await db.query('DELETE FROM webhook_endpoints WHERE id = $1', [id]);
    }
  }, COMMAND_TEST_MS);
});
