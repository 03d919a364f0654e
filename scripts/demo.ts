/**
 * npm run demo — the README's "run it": a real hub process (API + every worker,
 * dist/src/main.js) against the Zoom simulator (in this process), one 3-participant
 * meeting of ~20 s with video, audio, screen share, transcript and chat, then a report of
 * what was captured and where. Exits 0 when media was captured, 1 otherwise, and leaves
 * no process behind.
 *
 * Env: DEMO_DATABASE_URL (postgres://postgres@127.0.0.1:5432/rtms_hub_demo),
 * DEMO_REDIS_URL (redis://127.0.0.1:6379/0), DEMO_RECORDINGS_DIR (./recordings),
 * DEMO_DURATION_S (20), DEMO_PORT (a free port), DEMO_KEEP_RUNNING (1: after the report,
 * keep the hub up so the session console can be explored, until Ctrl-C).
 *
 * The session console (/console) is open while the meeting runs: its URL and the admin
 * credentials the demo set are printed when the hub is up and again with the report.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { distEntry, startNode, type Child } from '../bench/bench-utils';
import { runMigrations } from '../src/database/migrate';
import { ZoomSimulator } from '../src/simulator';
import { errorMessage } from '../src/common/errors/error-message';

const DB_URL = process.env.DEMO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/rtms_hub_demo';
const REDIS_URL = process.env.DEMO_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const RAW_DIR = process.env.DEMO_RECORDINGS_DIR ?? 'recordings';
const RECORDINGS = isAbsolute(RAW_DIR) ? RAW_DIR : resolve(process.cwd(), RAW_DIR);
const DURATION_MS = Number(process.env.DEMO_DURATION_S ?? 20) * 1000;
const KEEP_RUNNING = process.env.DEMO_KEEP_RUNNING === '1' || process.env.DEMO_KEEP_RUNNING === 'true';
const ADMIN = { username: 'admin', password: randomBytes(12).toString('hex') };
const API_KEY = 'demo-api-key-0123456789abcdef0123456789';
const CREDS = { clientId: 'demo_client_id', clientSecret: 'demo_client_secret', webhookSecretToken: 'demo_webhook_secret' };
const S2S = { clientId: 'demo_s2s_client_id', clientSecret: 'demo_s2s_client_secret', accountId: 'demo_account' };

const log = (msg: string) => console.log(`[demo] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastErr = errorMessage(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (${lastErr})` : ''}`);
    await sleep(intervalMs);
  }
}

async function freePort(): Promise<number> {
  if (process.env.DEMO_PORT) return Number(process.env.DEMO_PORT);
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Creates the demo database if it does not exist (never drops anything). */
async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      log(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

interface Artifact {
  id: string;
  kind: string;
  user_id: string | null;
  user_name: string | null;
  storage_key: string;
  bytes: number;
  duration_ms: number | null;
}

async function main(): Promise<number> {
  const started = Date.now();
  await ensureDatabase(DB_URL);
  await runMigrations(DB_URL, (m) => log(m));

  const sim = await ZoomSimulator.start({ ...CREDS, s2s: S2S, keepAliveIntervalMs: 5000, videoScale: 0.5 });
  const prefix = `demo-${randomUUID().slice(0, 8)}`;
  let hub: Child | null = null;
  const cleanup = async () => {
    if (hub) {
      const h = hub;
      hub = null;
      const kill = setTimeout(() => h.proc.kill('SIGKILL'), 15000);
      await h.stop();
      clearTimeout(kill);
    }
    await sim.stop().catch(() => undefined);
    const queues = ['zoom-events', 'rtms-control', 'rtms-streams', 'media-frames', 'zoom-rooms', 'oauth'];
    await Promise.all(
      queues.map(async (name) => {
        const q = new Queue(name, { connection: { url: REDIS_URL }, prefix });
        await q.obliterate({ force: true }).catch(() => undefined);
        await q.close();
      }),
    );
  };
  const onSignal = () => {
    log('interrupted, shutting down');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    log(`simulator on ${sim.httpBaseUrl}; starting the hub (dist/src/main.js) on ${base}`);
    hub = await startNode(
      distEntry('main.js'),
      {
        NODE_ENV: 'development',
        PORT: String(port),
        DATABASE_URL: DB_URL,
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        LOG_LEVEL: process.env.DEMO_LOG_LEVEL ?? 'warn',
        API_KEYS: API_KEY,
        ADMIN_USERNAME: ADMIN.username,
        ADMIN_PASSWORD: ADMIN.password,
        TOKEN_ENCRYPTION_KEYS: `demo:${randomBytes(32).toString('base64')}`,
        ZOOM_CLIENT_ID: CREDS.clientId,
        ZOOM_CLIENT_SECRET: CREDS.clientSecret,
        ZOOM_WEBHOOK_SECRET_TOKEN: CREDS.webhookSecretToken,
        ZOOM_S2S_CLIENT_ID: S2S.clientId,
        ZOOM_S2S_CLIENT_SECRET: S2S.clientSecret,
        ZOOM_ACCOUNT_ID: S2S.accountId,
        ZOOM_API_BASE_URL: sim.apiBaseUrl,
        ZOOM_OAUTH_BASE_URL: sim.oauthBaseUrl,
        ZOOM_EVENT_WS_URL: '',
        RTMS_ALLOWED_HOSTS: '127.0.0.1,localhost',
        RTMS_ALLOW_INSECURE_WS: 'true',
        STORAGE_DRIVER: 'local',
        STORAGE_LOCAL_DIR: RECORDINGS,
        AUDIO_SEGMENT_IDLE_FINALIZE_MS: '1500',
        WORKER_QUEUES: '',
      },
      async () => (await fetch(`${base}/health/live`)).ok,
      60000,
    );
    sim.setWebhookTarget(`${base}/api/v1/webhooks/zoom`);
    const consoleLines = [`session console: ${base}/console (username ${ADMIN.username}, password ${ADMIN.password})`];
    log(`${consoleLines[0]} — open it now to watch the meeting live`);
    const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; text: string }> => {
      const res = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* text body (vtt/txt) */
      }
      return { status: res.status, body: parsed as T, text };
    };

    // The meeting: script times are ms after createMeeting; RTMS is connected within ~1–2 s.
    const s = (sec: number) => sec * 1000;
    const meeting = sim.createMeeting({
      topic: 'RTMS Hub demo',
      participants: [
        {
          userId: 16778240,
          name: 'Ann Lee',
          speaks: [
            { atMs: s(3), text: 'Hi everyone, this meeting is captured by RTMS Hub.', durationMs: 2500 },
            { atMs: s(13), text: 'Let me share the roadmap.', durationMs: 1500 },
          ],
          shares: [{ fromMs: s(13), toMs: s(19) }],
          chat: [{ atMs: s(4), text: 'Agenda: demo, questions' }],
        },
        {
          userId: 16779264,
          name: 'Bruno Díaz',
          speaks: [{ atMs: s(7), text: 'Great, audio and video per participant?', durationMs: 2000 }],
          cameraSchedule: [{ atMs: s(10), on: false }, { atMs: s(12), on: true }],
          chat: [{ atMs: s(8), text: 'Looks good 👍' }],
        },
        {
          userId: 16780288,
          name: '../../etc/passwd',
          joinAtMs: s(2),
          speaks: [{ atMs: s(10), text: 'My name is hostile, my files stay in their folder.', durationMs: 2000 }],
          chat: [{ atMs: s(16), text: 'bye' }],
        },
      ],
    });

    const policy = {
      media_types: ['audio', 'video', 'deskshare', 'transcript', 'chat'],
      video: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0 },
      deskshare: { skip_first_frames: 0, interval_ms: 2000, max_frames_per_user: 0 },
      audio: { mode: 'per_participant', segment_seconds: 10 },
      transcript: { enabled: true },
      chat: { enabled: true },
    };
    const created = await api<{ id: string }>('POST', '/sessions', { platform: 'zoom', meeting_id: String(meeting.id), capture_policy: policy });
    if (created.status !== 201) throw new Error(`POST /sessions answered ${created.status}: ${created.text}`);
    const sessionId = created.body.id;
    log(`session ${sessionId} for meeting ${meeting.id} (video 1 frame/s per user, screen share 1 frame/2 s, audio per participant in 10 s WAV segments, transcript, chat)`);

    const start = await api('POST', `/sessions/${sessionId}/rtms/start`, {});
    if (start.status !== 202) throw new Error(`POST /sessions/:id/rtms/start answered ${start.status}: ${start.text}`);
    log('RTMS start requested through the hub (Server-to-Server token from the simulator)');
    const session = async () => (await api<{ status: string; failure_reason?: string | null }>('GET', `/sessions/${sessionId}`)).body;
    await waitUntil(
      'the session to stream',
      async () => {
        const cur = await session();
        if (cur.status === 'failed') throw new Error(`session failed: ${cur.failure_reason ?? 'unknown reason'}`);
        return cur.status === 'streaming';
      },
      30000,
    );
    const streamId = await waitUntil('the RTMS stream', async () => sim.streamsOf(meeting.id)[0]?.streamId, 10000);
    await waitUntil('the hub to connect to the stream', async () => sim.record(streamId).readyAcks.length > 0, 20000);
    log(`streaming (rtms_stream_id ${streamId}); the meeting runs for ${DURATION_MS / 1000} s`);

    const meetingEnd = meeting.createdAt + DURATION_MS;
    while (Date.now() < meetingEnd) {
      await sleep(Math.min(5000, meetingEnd - Date.now()));
      const sent = sim.record(streamId).messagesSent.byType;
      const left = Math.max(0, Math.round((meetingEnd - Date.now()) / 1000));
      log(`  sent so far: audio ${sent[14] ?? 0}, video ${sent[15] ?? 0}, share ${sent[16] ?? 0}, transcript ${sent[17] ?? 0}, chat ${sent[18] ?? 0}${left ? ` (${left} s left)` : ''}`);
    }

    const stop = await api('POST', `/sessions/${sessionId}/rtms/stop`, {});
    if (stop.status !== 202) throw new Error(`POST /sessions/:id/rtms/stop answered ${stop.status}: ${stop.text}`);
    await waitUntil('the session to stop', async () => (await session()).status === 'stopped', 20000);
    log('RTMS stopped; waiting for the savers to drain');

    const media = new Queue('media-frames', { connection: { url: REDIS_URL }, prefix });
    const db = new Client({ connectionString: DB_URL });
    await db.connect();
    try {
      let lastCount = -1;
      let stableSince = Date.now();
      await waitUntil(
        'the savers to drain',
        async () => {
          const counts = await media.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
          const pending = Object.values(counts).reduce((a, b) => a + b, 0);
          const open = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM audio_segments WHERE session_id = $1 AND status = 'open'`, [sessionId]);
          const arts = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM media_artifacts WHERE session_id = $1`, [sessionId]);
          const n = Number(arts.rows[0].n);
          if (n !== lastCount) {
            lastCount = n;
            stableSince = Date.now();
          }
          return pending === 0 && Number(open.rows[0].n) === 0 && Date.now() - stableSince > 1000;
        },
        30000,
      );
      const failed = await media.getJobCounts('failed');
      if (failed.failed) log(`warning: ${failed.failed} media-frames job(s) failed`);
    } finally {
      await db.end();
      await media.close();
    }

    // The report, through the hub's API.
    const artifacts: Artifact[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { data: Artifact[]; next_cursor: string | null }; text: string } = await api('GET', `/sessions/${sessionId}/artifacts?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (page.status !== 200) throw new Error(`GET artifacts answered ${page.status}: ${page.text}`);
      artifacts.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor);
    const transcript = await api<string>('GET', `/sessions/${sessionId}/transcript?format=txt`);

    const rec = sim.record(streamId);
    const kinds = ['video_frame', 'share_frame', 'audio_segment', 'chat'];
    const rows = new Map<string, { who: string; counts: Record<string, number>; bytes: number; audioMs: number }>();
    for (const a of artifacts) {
      const who = `${a.user_name ?? (a.user_id === '0' ? 'mixed' : '?')} (${a.user_id ?? '-'})`;
      const r = rows.get(who) ?? { who, counts: {}, bytes: 0, audioMs: 0 };
      r.counts[a.kind] = (r.counts[a.kind] ?? 0) + 1;
      r.bytes += a.bytes;
      if (a.kind === 'audio_segment') r.audioMs += a.duration_ms ?? 0;
      rows.set(who, r);
    }
    const total = artifacts.reduce((n, a) => n + a.bytes, 0);
    const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
    const out: string[] = [];
    out.push('');
    out.push('=== RTMS Hub demo report ===');
    out.push(`session ${sessionId}, meeting ${meeting.id}, stream ${streamId}`);
    out.push(
      `simulator sent: audio ${rec.messagesSent.byType[14] ?? 0}, video ${rec.messagesSent.byType[15] ?? 0}, share ${rec.messagesSent.byType[16] ?? 0}, transcript ${rec.messagesSent.byType[17] ?? 0}, chat ${rec.messagesSent.byType[18] ?? 0} messages`,
    );
    out.push(`captured: ${artifacts.length} files, ${kb(total)} (policy: 1 video frame/s per user, 1 share frame/2 s, 10 s WAV segments)`);
    out.push('');
    out.push(`${'participant'.padEnd(34)}${'video'.padStart(7)}${'share'.padStart(7)}${'wav'.padStart(5)}${'audio s'.padStart(9)}${'chat'.padStart(6)}${'bytes'.padStart(12)}`);
    for (const r of [...rows.values()].sort((a, b) => a.who.localeCompare(b.who))) {
      out.push(
        `${r.who.slice(0, 33).padEnd(34)}${String(r.counts.video_frame ?? 0).padStart(7)}${String(r.counts.share_frame ?? 0).padStart(7)}${String(r.counts.audio_segment ?? 0).padStart(5)}${(r.audioMs / 1000).toFixed(1).padStart(9)}${String(r.counts.chat ?? 0).padStart(6)}${kb(r.bytes).padStart(12)}`,
      );
    }
    out.push('');
    out.push(`stored under ${join(RECORDINGS, sessionId)}/`);
    const folders = new Map<string, number>();
    for (const a of artifacts) {
      const folder = a.storage_key.split('/').slice(0, -1).join('/');
      folders.set(folder, (folders.get(folder) ?? 0) + 1);
    }
    for (const [folder, n] of [...folders.entries()].sort()) out.push(`  ${folder.slice(sessionId.length + 1)}/  (${n} file${n === 1 ? '' : 's'})`);
    const example = artifacts.find((a) => a.kind === 'video_frame');
    if (example) out.push(`e.g. ${join(RECORDINGS, example.storage_key)}`);
    out.push('');
    out.push(`transcript (GET /api/v1/sessions/${sessionId}/transcript?format=txt|vtt|json):`);
    for (const line of transcript.text.trim().split('\n')) if (line) out.push(`  ${line}`);
    out.push('');
    out.push(`video is the active speaker's camera (RTMS data_opt 3). Done in ${Math.round((Date.now() - started) / 1000)} s${KEEP_RUNNING ? '' : '; hub and simulator stopped'}.`);
    out.push(`Serve it again with the API: npm start with DATABASE_URL = the demo database and STORAGE_LOCAL_DIR=${RECORDINGS}, then GET /api/v1/sessions/${sessionId}/artifacts.`);
    out.push('');
    out.push(KEEP_RUNNING ? `The hub keeps running (DEMO_KEEP_RUNNING): Ctrl-C to stop it.` : `(DEMO_KEEP_RUNNING=1 npm run demo keeps the hub up after the report, to explore it in the console.)`);
    out.push(...consoleLines, `  this session: ${base}/console/sessions/${sessionId}`);
    console.log(out.join('\n'));

    const ok = kinds.every((k) => artifacts.some((a) => a.kind === k)) && transcript.status === 200 && transcript.text.trim().length > 0;
    if (!ok) {
      const missing = kinds.filter((k) => !artifacts.some((a) => a.kind === k));
      console.error(`[demo] FAILED: nothing captured for ${missing.join(', ') || 'the transcript'}`);
      console.error(hub?.output().slice(-3000));
      return 1;
    }
    // Until Ctrl-C: onSignal stops the hub and the simulator and exits.
    if (KEEP_RUNNING) await new Promise<never>(() => undefined);
    return 0;
  } catch (err) {
    console.error(`[demo] FAILED: ${errorMessage(err)}`);
    if (hub) console.error(hub.output().slice(-3000));
    return 1;
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[demo] FAILED: ${errorMessage(err)}`);
    process.exit(1);
  },
);
