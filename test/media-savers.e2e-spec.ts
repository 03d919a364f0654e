import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import S3rver from '@20minutes/s3rver';
import request from 'supertest';
import { JobName } from '../src/jobs/job-names';
import type { MediaBatchPayload, MediaItem } from '../src/jobs/job-payloads';
import { QueueName } from '../src/jobs/queue-names';
import { CapturePolicyFilter } from '../src/modules/media-ingest/capture/capture-policy-filter';
import { parseWav } from '../src/modules/media-ingest/savers/wav';
import { MediaSaverService } from '../src/modules/media-ingest/savers/media-saver.service';
import { AudioSegmentWriter } from '../src/modules/media-ingest/audio/audio-segment-writer';
import { AudioSpool } from '../src/modules/media-ingest/audio/audio-spool';
import { SpooledAudioStore } from '../src/modules/media-ingest/audio/audio-spool.store';
import { SpoolFiles } from '../src/modules/media-ingest/audio/spool-files';
import { MEDIA_STORAGE } from '../src/modules/media-ingest/storage/media-storage';
import { ConfigService } from '@nestjs/config';
import { DataSource } from 'typeorm';
import { query } from './utils/db';
import type { CapturePolicy } from '../src/modules/sessions/capture-policy';
import { pcmTones, videoFrame } from '../src/simulator/media';
import { createSession } from './factories/session.factory';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor, waitForJobDone, waitForQueuesIdle } from './utils/wait-for';

/**
 * The media-frames savers, driven by realistic MediaBatchPayload jobs (the stream
 * worker's output: base64 data as received, Zoom timestamps) built from the
 * simulator's media generator. Runs once on the local driver and once on S3.
 */
const T0 = 1_750_690_000_000;
const NO_HOOKS = { saved: () => undefined, discarded: () => undefined, late: () => undefined, flushFailed: () => undefined, flushed: () => undefined }; // a Zoom ms timestamp on a 10 s boundary
const HOSTILE = ['../../x', 'a/b', 'nul\0name', 'x'.repeat(300)];

interface Ctx {
  root: string;
  spool: string;
  listKeys(prefix: string): Promise<string[]>;
}

const frameItems = (userId: number, userName: string, count: number, msgType = 15): MediaItem[] =>
  Array.from({ length: count }, (_, i) => ({
    msgType,
    userId,
    userName,
    timestamp: T0 + i * 200, // 5 fps
    data: videoFrame(userId, i, { width: 64, height: 36 }, 5, msgType === 16).base64,
    receivedAt: Date.now(),
  }));

const audioItems = (userId: number, userName: string, ms: number, fromMs = 0): MediaItem[] =>
  Array.from({ length: ms / 20 }, (_, i) => ({
    msgType: 14,
    userId,
    userName,
    timestamp: T0 + fromMs + i * 20,
    data: pcmTones([220 + userId], 16000, (fromMs / 20 + i) * 320, 320, 1).toString('base64'),
    receivedAt: Date.now(),
  }));

const chunk = <T>(xs: T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

function suite(driver: 'local' | 's3') {
  describe(`media savers (${driver} storage)`, () => {
    const ctx = {} as Ctx;
    let env: Record<string, string>;
    let s3: S3rver | null = null;
    let sessionId: string;
    const stream = `stream-${driver}-${Date.now()}`;
    const api = () => request(e2e.hub.baseUrl);
    const enqueue = (name: JobName.FrameSave | JobName.TranscriptSave | JobName.ChatSave, items: MediaItem[], jobId?: string) =>
      e2e.hub.producer.enqueue(name, { streams: [{ sessionId, rtmsStreamId: stream, items }] } as MediaBatchPayload, jobId ? { jobId } : undefined);
    const artifacts = async (q = '') => {
      const all: Array<Record<string, unknown>> = [];
      let cursor: string | null = null;
      do {
        const res = await api().get(`/api/v1/sessions/${sessionId}/artifacts?limit=7${q}${cursor ? `&cursor=${cursor}` : ''}`).set('x-api-key', API_KEY).expect(200);
        all.push(...(res.body.data as Array<Record<string, unknown>>));
        cursor = res.body.next_cursor as string | null;
      } while (cursor);
      return all;
    };
    /** The stream workers' segment writer (this app runs only the media-frames savers). */
    const audioWriter = () => new AudioSegmentWriter(e2e.hub.app.get(DataSource), e2e.hub.app.get(MEDIA_STORAGE), e2e.hub.app.get(MediaSaverService), e2e.hub.app.get(ConfigService));
    const queueIdle = async () => {
      await waitForQueuesIdle([e2e.hub.producer.queue(QueueName.MediaFrames)]);
      return true;
    };

    beforeAll(async () => {
      ctx.root = await fs.mkdtemp(path.join(os.tmpdir(), `media-${driver}-`));
      ctx.spool = await fs.mkdtemp(path.join(os.tmpdir(), `spool-${driver}-`));
      env = {
        STORAGE_LOCAL_DIR: ctx.root,
        AUDIO_SPOOL_DIR: ctx.spool,
        // The sweep takes every idle segment of its spool host: a host of its own keeps it off
        // the segments other test files leave open in the shared database.
        SPOOL_HOST_ID: `media-savers-${driver}-${process.pid}`,
        AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800',
        JOB_BACKOFF_MS: '50',
      };
      if (driver === 's3') {
        s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: ctx.root, configureBuckets: [{ name: 'media-test' }],
          // s3rver canonicalises bucket-level paths without the trailing '/' the v3 SDK signs (ListObjectsV2, DeleteObjects).
          allowMismatchedSignatures: true });
        const addr = await s3.run();
        Object.assign(env, { STORAGE_DRIVER: 's3', S3_BUCKET: 'media-test', S3_PREFIX: 'hub', S3_ENDPOINT: `http://127.0.0.1:${addr.port}`, S3_FORCE_PATH_STYLE: 'true', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' });
        const bucketDir = path.join(ctx.root, 'media-test');
        ctx.listKeys = async (prefix) => {
          const out: string[] = [];
          const walk = async (d: string) => {
            for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
              const p = path.join(d, e.name);
              if (e.isDirectory()) await walk(p);
              else if (e.name.endsWith('._S3rver_object')) out.push(path.relative(bucketDir, p).replace(/\._S3rver_object$/, ''));
            }
          };
          await walk(path.join(bucketDir, 'hub', prefix));
          return out.map((k) => k.replace(/^hub\//, ''));
        };
      } else {
        ctx.listKeys = async (prefix) => {
          const dir = path.join(ctx.root, prefix);
          const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
          return entries.filter((e) => e.isFile()).map((e) => path.relative(ctx.root, path.join(e.parentPath, e.name)));
        };
      }
    });

    const e2e = useE2eContext({ hub: { api: true, worker: { queues: [QueueName.MediaFrames], explicit: true } }, env: () => env });

    beforeAll(async () => {
      ({ id: sessionId } = await createSession(e2e.hub, {
        meetingId: '81234567890',
        capturePolicy: { audio: { segment_seconds: 2 }, video: { skip_first_frames: 3, interval_ms: 1000, max_frames_per_user: 5 } },
      }));
    });

    afterAll(async () => {
      if (s3) await s3.close();
      await fs.rm(ctx.root, { recursive: true, force: true });
      await fs.rm(ctx.spool, { recursive: true, force: true });
    });

    it('saves exactly the frames the capture policy keeps, under sanitised folders', async () => {
      const policy = (await api().get(`/api/v1/sessions/${sessionId}`).set('x-api-key', API_KEY).expect(200)).body.capture_policy as CapturePolicy;
      const filter = new CapturePolicyFilter(policy);
      const users = [{ id: 101, name: 'Ann' }, ...HOSTILE.map((name, i) => ({ id: 200 + i, name }))];
      const sent = users.flatMap((u) => frameItems(u.id, u.name, 50)); // 10 s at 5 fps each
      const kept = sent.filter((i) => filter.shouldKeep(i));
      // skip 3 (0–400 ms), then one per second from 600 ms, at most 5 → 600,1600,…,4600
      expect(kept.length).toBe(users.length * 5);
      for (const [n, batch] of chunk(kept, 10).entries()) await enqueue(JobName.FrameSave, batch, `frames-${driver}-${n}`);
      await waitFor(async () => (await artifacts('&kind=video_frame')).length === kept.length, { what: 'video artifacts', timeoutMs: 20000 });
      const rows = await artifacts('&kind=video_frame');
      for (const u of users) {
        const mine = rows.filter((r) => r.user_id === String(u.id));
        expect(mine.map((r) => Date.parse(r.captured_at as string) - T0)).toEqual([600, 1600, 2600, 3600, 4600]);
      }
      const keys = await ctx.listKeys(`${sessionId}/video`);
      expect(keys.sort()).toEqual(rows.map((r) => r.storage_key as string).sort());
      for (const k of keys) {
        const parts = k.split('/');
        expect(parts).toHaveLength(4);
        expect(parts[0]).toBe(sessionId);
        expect(parts[1]).toBe('video');
        expect(parts[3]).toMatch(/^\d+\.jpg$/);
      }
      expect(keys.some((k) => k.includes('/x_200/'))).toBe(true);
      expect(keys.some((k) => k.includes('/a_b_201/'))).toBe(true);
      expect(keys.some((k) => k.includes('/nul_name_202/'))).toBe(true);
      // the artifact's sha256 is the frame as sent
      const first = rows[0];
      const content = await api().get(`/api/v1/artifacts/${first.id as string}/content`).set('x-api-key', API_KEY).buffer(true).parse((res, cb) => {
        const bufs: Buffer[] = [];
        res.on('data', (b: Buffer) => bufs.push(b));
        res.on('end', () => cb(null, Buffer.concat(bufs)));
      }).expect(200);
      expect(content.headers['content-type']).toBe('image/jpeg');
      const sentItem = kept.find((i) => String(i.userId) === first.user_id && i.timestamp === Date.parse(first.captured_at as string))!;
      expect((content.body as Buffer).equals(Buffer.from(sentItem.data, 'base64'))).toBe(true);
    });

    it('serves HTTP Range requests (206) and refuses bad ranges (416)', async () => {
      const [a] = await artifacts('&kind=video_frame');
      const whole = Buffer.from(kept64(a), 'base64');
      const bin = (r: request.Test) => r.buffer(true).parse((res, cb) => {
        const bufs: Buffer[] = [];
        res.on('data', (b: Buffer) => bufs.push(b));
        res.on('end', () => cb(null, Buffer.concat(bufs)));
      });
      const part = await bin(api().get(`/api/v1/artifacts/${a.id as string}/content`).set('x-api-key', API_KEY).set('Range', 'bytes=10-29')).expect(206);
      expect(part.headers['content-range']).toBe(`bytes 10-29/${whole.length}`);
      expect((part.body as Buffer).equals(whole.subarray(10, 30))).toBe(true);
      const tail = await bin(api().get(`/api/v1/artifacts/${a.id as string}/content`).set('x-api-key', API_KEY).set('Range', 'bytes=-5')).expect(206);
      expect((tail.body as Buffer).equals(whole.subarray(whole.length - 5))).toBe(true);
      const bad = await api().get(`/api/v1/artifacts/${a.id as string}/content`).set('x-api-key', API_KEY).set('Range', `bytes=${whole.length}-`).expect(416);
      expect(bad.body.message).toBeDefined();
      expect(bad.headers['content-range']).toBe(`bytes */${whole.length}`);
      await api().get(`/api/v1/artifacts/${a.id as string}/content`).expect(401);
      await api().get('/api/v1/artifacts/not-a-uuid/content').set('x-api-key', API_KEY).expect(400);
      // If-Range: the version the client holds. The current ETag keeps the range; another
      // (the object was replaced meanwhile) or a date gets the whole object (RFC 9110 §13.1.5).
      const etag = part.headers.etag as string;
      const same = await bin(api().get(`/api/v1/artifacts/${a.id as string}/content`).set('x-api-key', API_KEY).set('Range', 'bytes=10-29').set('If-Range', etag)).expect(206);
      expect((same.body as Buffer).equals(whole.subarray(10, 30))).toBe(true);
      for (const stale of ['"0000"', 'Wed, 21 Oct 2015 07:28:00 GMT']) {
        const full = await bin(api().get(`/api/v1/artifacts/${a.id as string}/content`).set('x-api-key', API_KEY).set('Range', 'bytes=10-29').set('If-Range', stale)).expect(200);
        expect((full.body as Buffer).equals(whole)).toBe(true);
      }
      // HEAD: the headers of a GET, no body.
      const head = await api().head(`/api/v1/artifacts/${a.id as string}/content`).set('x-api-key', API_KEY).expect(200);
      expect(head.headers).toMatchObject({ 'content-length': String(whole.length), etag, 'accept-ranges': 'bytes' });
      const headRange = await api().head(`/api/v1/artifacts/${a.id as string}/content`).set('x-api-key', API_KEY).set('Range', 'bytes=0-9').expect(206);
      expect(headRange.headers['content-range']).toBe(`bytes 0-9/${whole.length}`);
    });

    it('writes valid WAV segments whose total duration matches the audio sent; retries add nothing', async () => {
      // Two participants, 5 s each, 20 ms L16 packets, spooled as the stream worker does
      // (flush every 10 packets) to spool files and Postgres; complete segments are written out.
      const writer = audioWriter();
      const store = new SpooledAudioStore(e2e.hub.app.get(DataSource), new SpoolFiles(writer.spoolDir), writer.spoolHost);
      const writes: Array<Promise<boolean>> = [];
      const spool = new AudioSpool(
        store,
        // Every other segment is written from the spool file rather than from memory.
        { ...NO_HOOKS, segmentsDue: async (segs) => void writes.push(...segs.map((x, i) => writer.finalizeSegment(x.id, i % 2 === 0 ? x.parts : undefined))) },
        { flushMs: 60_000, flushBytes: 1e9, maxBufferedBytes: 1e9, touchEveryMs: 200, cacheIdleMs: 60_000 },
      );
      const audio = spool.open({ sessionId, rtmsStreamId: stream, segmentMs: 2000, sampleRate: 16000, channels: 1 });
      const ann = audioItems(101, 'Ann', 5000);
      const bob = audioItems(102, 'a/b', 5000);
      const append = (i: MediaItem) => audio.append(String(i.userId), i.userName ?? null, { ts: i.timestamp, pcm: Buffer.from(i.data, 'base64'), receivedAt: i.receivedAt });
      for (let n = 0; n < ann.length; n += 10) {
        ann.slice(n, n + 10).forEach(append);
        bob.slice(n, n + 10).forEach(append);
        expect(await spool.flush()).toBe(true);
      }
      // Packets Zoom sends again (a replay after a reconnect) are kept once.
      expect(append(ann[42])).toBe(false);
      // A flush written twice (its commit went through, its answer was lost) adds nothing.
      const segs = await query<{ id: string }>(e2e.hub.app, `SELECT id FROM audio_segments WHERE rtms_stream_id = $1 AND user_id = '101' ORDER BY segment_start_ms LIMIT 1`, [stream]);
      const replay = ann.slice(0, 10).map((i) => ({ ts: i.timestamp, pcm: Buffer.from(i.data, 'base64'), receivedAt: 0 }));
      const partsBefore = await query<{ n: string }>(e2e.hub.app, `SELECT count(*)::text AS n FROM audio_parts`);
      await store.appendParts([{ segmentId: segs[0].id, packets: replay, touch: false }]);
      expect(await query<{ n: string }>(e2e.hub.app, `SELECT count(*)::text AS n FROM audio_parts`)).toEqual(partsBefore);
      await audio.end('finalize');
      expect((await Promise.all(writes)).every(Boolean)).toBe(true);
      // Writing a segment again (a crash between the object and the row) changes nothing.
      await query(e2e.hub.app, `UPDATE audio_segments SET status = 'open' WHERE id = $1`, [segs[0].id]);
      expect(await writer.finalizeSegment(segs[0].id)).toBe(true);
      await spool.close();
      await store.close();
      const wavs = await artifacts('&kind=audio_segment');
      expect(wavs).toHaveLength(6); // 3 × 2 s per user
      for (const user of ['101', '102']) {
        const mine = wavs.filter((w) => w.user_id === user);
        let total = 0;
        for (const w of mine) {
          const res = await api().get(`/api/v1/artifacts/${w.id as string}/content`).set('x-api-key', API_KEY).buffer(true).parse((r, cb) => {
            const bufs: Buffer[] = [];
            r.on('data', (b: Buffer) => bufs.push(b));
            r.on('end', () => cb(null, Buffer.concat(bufs)));
          }).expect(200);
          expect(res.headers['content-type']).toBe('audio/wav');
          const info = parseWav(res.body as Buffer);
          expect(info).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16 });
          expect(info.durationMs).toBe(w.duration_ms);
          total += info.durationMs;
        }
        expect(Math.abs(total - 5000)).toBeLessThanOrEqual(20);
      }
      const annFirst = wavs.find((w) => w.user_id === '101' && (w.meta as { segment_start_ms: number }).segment_start_ms === T0)!;
      expect((annFirst.meta as { duplicates: number; gaps: unknown[] }).gaps).toEqual([]);

      // The PCM was in the spool files, not in Postgres. Written segments are sealed after
      // the retention: their parts and spool files go, the WAVs stay.
      expect(await query(e2e.hub.app, `SELECT 1 FROM audio_parts p JOIN audio_segments s ON s.id = p.segment_id WHERE s.rtms_stream_id = $1 AND p.pcm IS NOT NULL`, [stream])).toEqual([]);
      const spoolFiles = await fs.readdir(ctx.spool);
      expect(spoolFiles).toHaveLength(1); // one append-only log per process
      const old = new Date(Date.now() - 120_000);
      await fs.utimes(path.join(ctx.spool, spoolFiles[0]), old, old);
      expect(await writer.removeUnusedSpoolFiles()).toBe(0); // its parts are still there
      await query(e2e.hub.app, `UPDATE audio_segments SET updated_at = now() - interval '11 minutes' WHERE rtms_stream_id = $1`, [stream]);
      expect(await writer.sweep(800)).toEqual({ written: 0, sealed: 6, recovered: 0 });
      expect(await query(e2e.hub.app, `SELECT 1 FROM audio_parts p JOIN audio_segments s ON s.id = p.segment_id WHERE s.rtms_stream_id = $1`, [stream])).toEqual([]);
      expect(await writer.removeUnusedSpoolFiles()).toBe(1);
      expect(await fs.readdir(ctx.spool)).toEqual([]);
      expect(await artifacts('&kind=audio_segment')).toHaveLength(6);
    });

    it('two spool writes at once never wait on each other, whichever segments they refresh', async () => {
      // The spool runs two writes at once, each touching the same open segments. Here each
      // write is held open in its own transaction to pin the interleaving that deadlocked
      // when writes share-locked their segments: A has refreshed segment X; B, refreshing
      // Y, must go through at once (lock_timeout turns a wait into a failure), and so must
      // A refreshing Y once B is in. The finalizer meanwhile skips the locked segments.
      const db = e2e.hub.app.get(DataSource);
      const writer = audioWriter();
      const seed = new SpooledAudioStore(db, new SpoolFiles(writer.spoolDir), writer.spoolHost);
      const refs = [0, 1].map((i) => ({
        key: `k${i}`, sessionId, rtmsStreamId: `${stream}-locks`, userId: String(900 + i), userName: `U${i}`,
        segmentStartMs: T0, segmentMs: 2000, sampleRate: 16000, channels: 1,
      }));
      const [x, y] = [...(await seed.ensureSegments(refs)).values()];
      const packets = (from: number) => audioItems(900, 'U', 100, from).map((i) => ({ ts: i.timestamp, pcm: Buffer.from(i.data, 'base64'), receivedAt: 0 }));
      const a = db.createQueryRunner();
      const b = db.createQueryRunner();
      try {
        await a.startTransaction();
        await b.startTransaction();
        await b.query(`SET LOCAL lock_timeout = '2s'`);
        const storeA = new SpooledAudioStore(a as unknown as DataSource, new SpoolFiles(writer.spoolDir), writer.spoolHost);
        const storeB = new SpooledAudioStore(b as unknown as DataSource, new SpoolFiles(writer.spoolDir), writer.spoolHost);
        await storeA.appendParts([{ segmentId: x, packets: packets(0), touch: true }, { segmentId: y, packets: packets(0), touch: false }]);
        await storeB.appendParts([{ segmentId: x, packets: packets(100), touch: false }, { segmentId: y, packets: packets(100), touch: true }]);
        expect(await writer.finalizeSegments([{ id: x }, { id: y }])).toBe(0); // both held: skipped, not waited for
        await b.commitTransaction();
        await storeA.appendParts([{ segmentId: y, packets: packets(200), touch: true }]);
        await a.commitTransaction();
        await Promise.all([storeA.close(), storeB.close()]);
      } finally {
        if (a.isTransactionActive) await a.rollbackTransaction();
        if (b.isTransactionActive) await b.rollbackTransaction();
        await a.release();
        await b.release();
        await seed.close();
      }
      const parts = await query<{ segment_id: string; n: string }>(e2e.hub.app, `SELECT segment_id, count(*)::text AS n FROM audio_parts WHERE segment_id = ANY($1::uuid[]) GROUP BY 1`, [[x, y]]);
      expect(Object.fromEntries(parts.map((p) => [p.segment_id, Number(p.n)]))).toEqual({ [x]: 2, [y]: 3 });
      expect(await writer.finalizeSegments([{ id: x }, { id: y }])).toBe(2);
    });

    it('stores transcripts once and renders them as JSON, VTT and text', async () => {
      const lines: MediaItem[] = [
        { msgType: 17, userId: 101, userName: 'Ann', timestamp: T0 + 3000, data: 'Hello everyone', meta: { start_time: T0 + 1000, end_time: T0 + 3000, language: 9, attribute: 1 }, receivedAt: Date.now() },
        { msgType: 17, userId: 102, userName: 'a/b', timestamp: T0 + 6500, data: 'Hi <Ann>', meta: { start_time: T0 + 5000, end_time: T0 + 6500, language: 9, attribute: 1 }, receivedAt: Date.now() },
      ];
      await enqueue(JobName.TranscriptSave, lines);
      await enqueue(JobName.TranscriptSave, lines); // retried
      await waitFor(async () => (await queueIdle()) && (await api().get(`/api/v1/sessions/${sessionId}/transcript`).set('x-api-key', API_KEY)).body.data?.length === 2, { what: 'transcript' });
      const json = await api().get(`/api/v1/sessions/${sessionId}/transcript?format=json`).set('x-api-key', API_KEY).expect(200);
      expect(json.body.data.map((l: { text: string; user_name: string }) => [l.user_name, l.text])).toEqual([['Ann', 'Hello everyone'], ['a/b', 'Hi <Ann>']]);
      const vtt = await api().get(`/api/v1/sessions/${sessionId}/transcript?format=vtt`).set('x-api-key', API_KEY).expect(200);
      expect(vtt.headers['content-type']).toMatch(/^text\/vtt/);
      expect(vtt.text).toBe('WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\n<v Ann>Hello everyone\n\n2\n00:00:04.000 --> 00:00:05.500\n<v a/b>Hi &lt;Ann&gt;\n');
      const txt = await api().get(`/api/v1/sessions/${sessionId}/transcript?format=txt`).set('x-api-key', API_KEY).expect(200);
      expect(txt.text).toBe('[00:00:00] Ann: Hello everyone\n[00:00:04] a/b: Hi <Ann>\n');
      await api().get(`/api/v1/sessions/${sessionId}/transcript?format=srt`).set('x-api-key', API_KEY).expect(400);
    });

    it('saves chat as JSON artifacts, once', async () => {
      const chat: MediaItem[] = [
        { msgType: 18, userId: 101, userName: 'Ann', timestamp: T0 + 7000, data: 'hi all', receivedAt: Date.now() },
        { msgType: 18, userId: 200, userName: '../../x', timestamp: T0 + 7000, data: 'hello', receivedAt: Date.now() },
      ];
      await enqueue(JobName.ChatSave, chat);
      await enqueue(JobName.ChatSave, chat);
      await waitFor(async () => (await queueIdle()) && (await artifacts('&kind=chat')).length === 2, { what: 'chat' });
      const rows = await artifacts('&kind=chat&user_id=200');
      expect(rows).toHaveLength(1);
      expect(rows[0].content_type).toBe('application/json');
      expect((rows[0].meta as { text: string }).text).toBe('hello');
    });

    it('H.264 segments: one object and row each, a repeated save changes nothing, other bytes under a taken key are refused', async () => {
      // A segment as the stream worker's segmenter emits it: SPS+PPS+IDR then P frames, 40 ms apart.
      const nal = (...b: number[]) => Buffer.from([0, 0, 0, 1, ...b]);
      const segment = (userId: number, firstTs: number, fill: number): MediaItem => {
        const bytes = Buffer.concat([nal(0x67, 0x42, 0xc0, 0x1e, 0xd9), nal(0x68, 0xce, 0x3c, 0x80), nal(0x65, 0x88, fill), nal(0x41, 0x9a, fill), nal(0x41, 0x9a, fill)]);
        return { msgType: userId === 102 ? 16 : 15, userId, userName: userId === 102 ? 'Bea' : '../../x', timestamp: firstTs, data: bytes.toString('base64'), receivedAt: Date.now(), segment: { frames: 3, firstTs, lastTs: firstTs + 80, frameTs: [0, 40, 80], durationMs: 120 } };
      };
      const first = [segment(101, T0 + 20_000, 1), segment(101, T0 + 22_000, 2), segment(102, T0 + 20_000, 3)];
      const job = await enqueue(JobName.FrameSave, first);
      await waitForJobDone(e2e.hub.producer.queue(QueueName.MediaFrames), job.id!, { what: 'segment job' });
      // A saved batch does not keep its media in Redis (src/jobs/job-options.ts).
      expect(await e2e.hub.producer.queue(QueueName.MediaFrames).getJob(job.id!)).toBeUndefined();
      const rows = async () => [...(await artifacts('&kind=video_segment')), ...(await artifacts('&kind=share_segment'))];
      const saved = await rows();
      expect(saved.map((r) => [r.kind, r.user_id, r.captured_at, r.duration_ms, r.content_type, r.meta])).toEqual([
        ['video_segment', '101', new Date(T0 + 20_000).toISOString(), 120, 'video/h264', { codec: 'h264', frames: 3, first_ts: T0 + 20_000, last_ts: T0 + 20_080, frame_ts: [0, 40, 80] }],
        ['video_segment', '101', new Date(T0 + 22_000).toISOString(), 120, 'video/h264', { codec: 'h264', frames: 3, first_ts: T0 + 22_000, last_ts: T0 + 22_080, frame_ts: [0, 40, 80] }],
        ['share_segment', '102', new Date(T0 + 20_000).toISOString(), 120, 'video/h264', { codec: 'h264', frames: 3, first_ts: T0 + 20_000, last_ts: T0 + 20_080, frame_ts: [0, 40, 80] }],
      ]);
      expect(saved.map((r) => r.storage_key)).toEqual([
        `${sessionId}/video-segments/x_101/${T0 + 20_000}.h264`,
        `${sessionId}/video-segments/x_101/${T0 + 22_000}.h264`,
        `${sessionId}/deskshare-segments/Bea_102/${T0 + 20_000}.h264`,
      ]);
      const keys = [...(await ctx.listKeys(`${sessionId}/video-segments`)), ...(await ctx.listKeys(`${sessionId}/deskshare-segments`))];
      expect(keys.sort()).toEqual(saved.map((r) => r.storage_key as string).sort());
      // Retried and duplicated saves (the same segment again) rewrite nothing new.
      const again = await enqueue(JobName.FrameSave, [...first, first[0]]);
      await waitForJobDone(e2e.hub.producer.queue(QueueName.MediaFrames), again.id!, { what: 'repeated segment job' });
      expect((await rows()).map((r) => [r.id, r.sha256])).toEqual(saved.map((r) => [r.id, r.sha256]));
      // Other bytes starting at the same frame (a second owner, which fencing rules out) never replace the first.
      const other = await enqueue(JobName.FrameSave, [segment(101, T0 + 20_000, 9)]);
      await waitForJobDone(e2e.hub.producer.queue(QueueName.MediaFrames), other.id!, { what: 'conflicting segment job' });
      expect((await rows()).map((r) => [r.id, r.sha256, r.bytes])).toEqual(saved.map((r) => [r.id, r.sha256, r.bytes]));
      const body = await api().get(`/api/v1/artifacts/${saved[0].id as string}/content`).set('x-api-key', API_KEY).set('Range', 'bytes=0-3').buffer(true).parse((res, cb) => {
        const bufs: Buffer[] = [];
        res.on('data', (b: Buffer) => bufs.push(b));
        res.on('end', () => cb(null, Buffer.concat(bufs)));
      }).expect(206);
      expect(body.headers['content-type']).toBe('video/h264');
      expect((body.body as Buffer).equals(Buffer.from([0, 0, 0, 1]))).toBe(true);
      const whole = await api().get(`/api/v1/artifacts/${saved[0].id as string}/content`).set('x-api-key', API_KEY).buffer(true).parse((res, cb) => {
        const bufs: Buffer[] = [];
        res.on('data', (b: Buffer) => bufs.push(b));
        res.on('end', () => cb(null, Buffer.concat(bufs)));
      }).expect(200);
      expect((whole.body as Buffer).equals(Buffer.from(first[0].data, 'base64'))).toBe(true);
    });

    it('a saver killed between writing files and recording rows is retried without duplicates', async () => {
      const savers = e2e.hub.app.get(MediaSaverService);
      const proto = Object.getPrototypeOf(savers) as { upsertArtifacts: (...a: unknown[]) => Promise<Map<string, string>> };
      const original = proto.upsertArtifacts;
      let crashes = 0;
      jest.spyOn(proto, 'upsertArtifacts').mockImplementation(function (this: unknown, ...args: unknown[]) {
        if (crashes++ === 0) return Promise.reject(new Error('worker killed mid-job'));
        return original.apply(this, args);
      });
      const before = (await artifacts('&kind=share_frame')).length;
      const share = frameItems(101, 'Ann', 4, 16);
      const job = await enqueue(JobName.FrameSave, share);
      await waitForJobDone(e2e.hub.producer.queue(QueueName.MediaFrames), job.id!, { what: 'retried frame job', timeoutMs: 15000 });
      jest.restoreAllMocks();
      expect(crashes).toBeGreaterThanOrEqual(2);
      const rows = await artifacts('&kind=share_frame');
      expect(rows.length - before).toBe(4);
      expect((await ctx.listKeys(`${sessionId}/deskshare`)).length).toBe(4);
      // and a re-run of the whole job changes nothing
      const again = await enqueue(JobName.FrameSave, share);
      await waitForJobDone(e2e.hub.producer.queue(QueueName.MediaFrames), again.id!, { what: 'rerun' });
      expect((await artifacts('&kind=share_frame')).length - before).toBe(4);
      expect((await ctx.listKeys(`${sessionId}/deskshare`)).length).toBe(4);
    });

    it('STREAM_REVOKED purge deletes the stream media and refuses later saves; session delete removes the rest', async () => {
      const other = `${stream}-revoked`;
      await e2e.hub.producer.enqueue(JobName.FrameSave, { streams: [{ sessionId, rtmsStreamId: other, items: frameItems(300, 'Zed', 3) }] });
      await waitFor(async () => (await artifacts('&user_id=300')).length === 3, { what: 'revoked stream frames' });
      await e2e.hub.producer.enqueue(JobName.MediaPurge, { rtmsStreamId: other, pass: 2 });
      await waitFor(async () => (await artifacts('&user_id=300')).length === 0, { what: 'purge' });
      expect((await ctx.listKeys(`${sessionId}/video`)).filter((k) => k.includes('_300/'))).toEqual([]);
      // One batch carries several streams: the revoked one's frames are refused, the other's saved.
      const late = await e2e.hub.producer.enqueue(JobName.FrameSave, {
        streams: [
          { sessionId, rtmsStreamId: other, items: frameItems(300, 'Zed', 2) },
          { sessionId, rtmsStreamId: `${stream}-live`, items: frameItems(301, 'Yan', 2) },
        ],
      });
      await waitForJobDone(e2e.hub.producer.queue(QueueName.MediaFrames), late.id!, { what: 'late save' });
      expect(await artifacts('&user_id=300')).toHaveLength(0);
      expect(await artifacts('&user_id=301')).toHaveLength(2);

      expect((await ctx.listKeys(sessionId)).length).toBeGreaterThan(0);
      await api().delete(`/api/v1/sessions/${sessionId}`).set('x-api-key', API_KEY).expect(204);
      expect(await ctx.listKeys(sessionId)).toEqual([]);
      await api().get(`/api/v1/sessions/${sessionId}/artifacts`).set('x-api-key', API_KEY).expect(404);
    });

    function kept64(a: Record<string, unknown>): string {
      const i = Number(String(Date.parse(a.captured_at as string) - T0)) / 200;
      return videoFrame(Number(a.user_id), i, { width: 64, height: 36 }, 5).base64;
    }
  });
}

suite('local');
suite('s3');
