/**
 * The RTMS Hub demo: a real hub process (API + workers, built code) against the Zoom
 * simulator. A 3-participant meeting is registered through the API, RTMS is started
 * through the hub's rtms-control API (Server-to-Server token from the simulator), Zoom's
 * webhook arrives, a worker holds the RTMS sockets and the savers write what the capture
 * policy asks for. Then it prints what was captured and where, and exits 0 (1 when
 * something that should have been captured is missing).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { distEntry, startNode } from '../bench/bench-utils';
import { runMigrations } from '../src/database/migrate';
import { ZoomSimulator } from '../src/simulator';

const DATABASE_URL = process.env.DEMO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/rtms_hub_demo';
const REDIS_URL = process.env.DEMO_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RECORDINGS = resolve(process.env.DEMO_RECORDINGS_DIR ?? 'recordings');
const MEETING_MS = Number(process.env.DEMO_MEETING_SECONDS ?? 20) * 1000;
const API_KEY = 'demo-api-key';
const APP = { clientId: 'demo_client_id', clientSecret: 'demo_client_secret', webhookSecretToken: 'demo_webhook_secret' };
const S2S = { clientId: 'demo_s2s_id', clientSecret: 'demo_s2s_secret', accountId: 'demo_account' };

const log = (line: string) => console.log(line);

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const name = target.pathname.slice(1);
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Artifact {
  kind: string;
  user_id: string | number | null;
  user_name: string | null;
  storage_key: string;
  bytes: number;
}

async function main(): Promise<void> {
  const started = Date.now();
  log('RTMS Hub demo');
  await ensureDatabase(DATABASE_URL);
  const applied = await runMigrations(DATABASE_URL, () => undefined);
  log(`  database   ${new URL(DATABASE_URL).pathname.slice(1)} (${applied.length ? `applied ${applied.length} migration(s)` : 'up to date'})`);

  const sim = await ZoomSimulator.start({ ...APP, s2s: S2S, keepAliveIntervalMs: 5000 });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const hub = await startNode(
    distEntry('main.js'),
    {
      NODE_ENV: 'development',
      PORT: String(port),
      LOG_LEVEL: process.env.DEMO_LOG_LEVEL ?? 'warn',
      DATABASE_URL,
      REDIS_URL,
      QUEUE_PREFIX: `demo-${randomUUID().slice(0, 8)}`,
      API_KEYS: API_KEY,
      ZOOM_CLIENT_ID: APP.clientId,
      ZOOM_CLIENT_SECRET: APP.clientSecret,
      ZOOM_WEBHOOK_SECRET_TOKEN: APP.webhookSecretToken,
      ZOOM_S2S_CLIENT_ID: S2S.clientId,
      ZOOM_S2S_CLIENT_SECRET: S2S.clientSecret,
      ZOOM_ACCOUNT_ID: S2S.accountId,
      ZOOM_API_BASE_URL: sim.apiBaseUrl,
      ZOOM_OAUTH_BASE_URL: sim.oauthBaseUrl,
      RTMS_ALLOWED_HOSTS: '127.0.0.1',
      RTMS_ALLOW_INSECURE_WS: 'true',
      TOKEN_ENCRYPTION_KEYS: `demo:${randomBytes(32).toString('base64')}`,
      STORAGE_DRIVER: 'local',
      STORAGE_LOCAL_DIR: RECORDINGS,
    },
    async () => (await fetch(`${base}/health/ready`)).ok,
    60000,
  );
  log(`  hub        ${base} (API + all workers, pid ${hub.proc.pid})`);
  log(`  simulator  ${sim.httpBaseUrl}`);
  sim.setWebhookTarget(`${base}/api/v1/webhooks/zoom`);

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
    const type = res.headers.get('content-type') ?? '';
    return (type.includes('json') ? res.json() : res.text()) as Promise<T>;
  };

  let exitCode = 1;
  try {
    const meeting = sim.createMeeting({
      topic: 'RTMS Hub demo',
      durationMs: MEETING_MS,
      participants: [
        {
          userId: 16778240,
          name: 'Ada Lovelace',
          speaks: [
            { atMs: 1000, text: 'Welcome to the RTMS Hub demo.' },
            { atMs: 9000, text: 'Every camera, voice and word is captured per participant.' },
          ],
          chat: [{ atMs: 3000, text: 'Hello from the chat!' }],
        },
        { userId: 16779264, name: 'Grace Hopper', shares: [{ fromMs: 4000, toMs: 12000 }], speaks: [{ atMs: 5000, text: 'I am sharing my screen now.' }] },
        { userId: 16780288, name: 'José Müller', speaks: [{ atMs: 13000, text: 'Names with accents are fine too.' }], chat: [{ atMs: 14000, text: '¡Hasta luego!' }] },
      ],
    });
    const session = await api<{ id: string }>('POST', '/sessions', {
      platform: 'zoom',
      meeting_id: String(meeting.id),
      capture_policy: {
        video: { interval_ms: 2000, max_frames_per_user: 5 },
        deskshare: { interval_ms: 2000 },
        audio: { mode: 'per_participant', segment_seconds: 5 },
      },
      metadata: { demo: true },
    });
    log(`  session    ${session.id} for meeting ${meeting.id} (3 participants, ${MEETING_MS / 1000} s)`);

    await api('POST', `/sessions/${session.id}/rtms/start`, {});
    log('  rtms       start requested through the hub → Zoom (simulator) → meeting.rtms_started webhook');
    await until('the stream to connect', async () => {
      const s = await api<{ status: string; streams: Array<{ status: string }> }>('GET', `/sessions/${session.id}`);
      return s.status === 'streaming' && s.streams.some((st) => st.status === 'active');
    }, 30000);
    log('  stream     connected: signaling + media handshakes done, capturing…');

    const stopped = await until(
      'the meeting to end',
      async () => {
        const s = await api<{ status: string; stop_reason_name: string | null }>('GET', `/sessions/${session.id}`);
        return s.status === 'stopped' || s.status === 'failed' ? s : undefined;
      },
      MEETING_MS + 60000,
    );
    log(`  meeting    ended: session ${stopped.status} (${stopped.stop_reason_name ?? 'no reason'})`);

    // Savers drain asynchronously; wait until the artifact list stops growing.
    let artifacts: Artifact[] = [];
    let stableSince = Date.now();
    const drainDeadline = Date.now() + 45000;
    for (;;) {
      const all: Artifact[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: Artifact[]; next_cursor: string | null } = await api('GET', `/sessions/${session.id}/artifacts?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        all.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor);
      if (all.length !== artifacts.length) stableSince = Date.now();
      artifacts = all;
      const hasAudio = artifacts.some((a) => a.kind.startsWith('audio'));
      if ((hasAudio && Date.now() - stableSince > 6000) || Date.now() > drainDeadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }

    const participants = await api<{ data: Array<{ zoom_user_id: string; user_name: string | null }> }>('GET', `/sessions/${session.id}/participants`);
    const transcript = await api<string>('GET', `/sessions/${session.id}/transcript?format=txt`);

    log('');
    log(`Captured ${artifacts.length} files, ${(artifacts.reduce((n, a) => n + Number(a.bytes), 0) / 1024).toFixed(0)} KiB, under ${resolve(RECORDINGS, session.id)}`);
    const rows = new Map<string, { files: number; bytes: number }>();
    for (const a of artifacts) {
      const key = `${a.kind.padEnd(15)} ${a.user_name ?? (a.user_id ? `user ${a.user_id}` : '(mixed)')}`;
      const row = rows.get(key) ?? { files: 0, bytes: 0 };
      row.files += 1;
      row.bytes += Number(a.bytes);
      rows.set(key, row);
    }
    for (const [key, row] of [...rows.entries()].sort()) log(`  ${key.padEnd(40)} ${String(row.files).padStart(4)} file(s) ${(row.bytes / 1024).toFixed(1).padStart(9)} KiB`);
    log('');
    log(`Participants: ${participants.data.map((p) => p.user_name ?? p.zoom_user_id).join(', ')}`);
    log('Transcript:');
    for (const line of transcript.trim().split('\n')) log(`  ${line}`);
    log('');
    log(`Browse it: GET ${base}/api/v1/sessions/${session.id}/artifacts (x-api-key) — the hub stops now.`);

    const kinds = new Set(artifacts.map((a) => a.kind));
    const missing = ['video', 'audio', 'share', 'chat'].filter((k) => ![...kinds].some((kind) => kind.includes(k)));
    if (missing.length > 0 || transcript.trim().length === 0) {
      log(`Demo FAILED: nothing captured for ${[...missing, ...(transcript.trim() ? [] : ['transcript'])].join(', ')}`);
    } else {
      exitCode = 0;
    }
  } finally {
    const hubExit = await hub.stop();
    await sim.stop();
    if (hubExit !== 0) {
      log(`Hub exited with ${hubExit}:\n${hub.output().slice(-3000)}`);
      exitCode = 1;
    }
  }
  log(`Demo ${exitCode === 0 ? 'OK' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  console.error('Demo failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
