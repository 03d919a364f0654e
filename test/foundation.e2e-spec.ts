import request from 'supertest';
import { JobName, jobsOfQueue } from '../src/jobs/job-names';
import { JobOf } from '../src/jobs/job-payloads';
import { ALL_QUEUES } from '../src/jobs/queue-names';
import { useE2eContext } from './utils/e2e-context';
import { HandledJob, recordingRegistrations } from './utils/recording-processors';
import { StallingRedis } from './utils/stalling-redis';
import { ADMIN_AUTH, API_KEY, obliterateQueues, startTestApp, TEST_KEYS, TestApp } from './utils/test-app';
import { waitFor } from './utils/wait-for';

/** A minimal valid payload per job name (the recording processors only store it). */
const samplePayload: { [N in JobName]: JobOf<N> } = {
  [JobName.ZoomEventProcess]: { eventId: 'evt-1' },
  [JobName.RtmsStart]: { sessionId: 's1', requestId: 'r1' },
  [JobName.RtmsStop]: { sessionId: 's1', requestId: 'r2' },
  [JobName.RtmsPause]: { sessionId: 's1', requestId: 'r3' },
  [JobName.RtmsResume]: { sessionId: 's1', requestId: 'r4' },
  [JobName.StreamRun]: { rtmsStreamId: 'abc', sessionId: 's1' },
  [JobName.FrameSave]: { streams: [{ sessionId: 's1', rtmsStreamId: 'abc', items: [] }] },
  [JobName.TranscriptSave]: { streams: [{ sessionId: 's1', rtmsStreamId: 'abc', items: [] }] },
  [JobName.ChatSave]: { streams: [{ sessionId: 's1', rtmsStreamId: 'abc', items: [] }] },
  [JobName.MediaPurge]: { rtmsStreamId: 'abc' },
  [JobName.RecordingCheck]: { sessionId: 's1' },
  [JobName.RoomJoin]: { dispatchId: 'd1' },
  [JobName.RoomLeave]: { dispatchId: 'd1' },
  [JobName.RoomsAutoDispatch]: { sessionId: 's1' },
  [JobName.RoomsMeetingEnded]: { sessionId: 's1' },
  [JobName.TokenRefresh]: { connectionId: 'c1' },
  [JobName.OAuthDeauthorize]: { eventId: 'e1', zoomUserId: 'u1', zoomAccountId: 'a1' },
  [JobName.AppEventFanout]: { eventId: '00000000-0000-4000-8000-000000000001' },
  [JobName.WebhookDeliver]: { messageId: '00000000-0000-4000-8000-000000000002', attempt: 1 },
  [JobName.RetentionSweep]: { trigger: 'manual' },
  [JobName.ErasureRun]: { erasureId: '00000000-0000-4000-8000-000000000003' },
  [JobName.RecordingCompose]: { sessionId: 's1', revision: 'auto' },
};

describe('Foundation (all-in-one, API-only and worker processes)', () => {
  describe('HTTP surface of the all-in-one process', () => {
    const ctx = useE2eContext({ hub: { api: true, worker: { queues: [...ALL_QUEUES], explicit: false, registrations: recordingRegistrations([]) } } });

    it('answers liveness and readiness (Postgres + Redis up)', async () => {
      await request(ctx.hub.app.getHttpServer()).get('/health/live').expect(200, { status: 'ok' });
      const ready = await request(ctx.hub.app.getHttpServer()).get('/health/ready').expect(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.body.details).toEqual({
        database: { status: 'up' },
        redis: { status: 'up' },
        // Media storage: a cached write probe, and what waits for storage (nothing).
        storage: { status: 'up', driver: 'local', waiting: { items: {}, bytes: 0, batches: 0, oldest_failure_at: null } },
      });
    });

    it('protects Bull Board with admin credentials', async () => {
      const server = ctx.hub.app.getHttpServer();
      const anonymous = await request(server).get('/admin/queues').expect(401);
      expect(anonymous.body).toMatchObject({ statusCode: 401, error: 'invalid_admin_credentials' });
      const wrong = 'Basic ' + Buffer.from('admin:nope').toString('base64');
      await request(server).get('/admin/queues').set('Authorization', wrong).expect(401);
      const page = await request(server).get('/admin/queues').set('Authorization', ADMIN_AUTH).expect(200);
      expect(page.text).toContain('RTMS Hub queues');
      const api = await request(server).get('/admin/queues/api/queues').set('Authorization', ADMIN_AUTH).expect(200);
      const names = (api.body.queues as Array<{ name: string }>).map((q) => q.name).sort();
      expect(names).toEqual([...ALL_QUEUES].sort());
    });

    it('requires an API key on app routes (x-api-key or Bearer)', async () => {
      const server = ctx.hub.app.getHttpServer();
      const res = await request(server).get('/metrics').expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, error: 'invalid_api_key' });
      expect(typeof res.body.requestId).toBe('string');
      await request(server).get('/metrics').set('x-api-key', 'wrong').expect(401);
      await request(server).get('/metrics').set('x-api-key', API_KEY).expect(200);
      await request(server).get('/metrics').set('Authorization', `Bearer ${TEST_KEYS.second}`).expect(200);
    });

    it('exposes Prometheus metrics with per-queue gauges', async () => {
      const res = await request(ctx.hub.app.getHttpServer()).get('/metrics').set('x-api-key', API_KEY).expect(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.text).toContain('rtms_hub_process_resident_memory_bytes');
      for (const queue of ALL_QUEUES) {
        for (const state of ['waiting', 'active', 'failed', 'delayed']) {
          expect(res.text).toContain(`rtms_hub_queue_jobs{queue="${queue}",state="${state}"}`);
        }
      }
    });

    it('answers malformed JSON with the uniform 400 error and a request id', async () => {
      const res = await request(ctx.hub.app.getHttpServer())
        .post('/api/v1/sessions')
        .set('x-api-key', API_KEY)
        .set('Content-Type', 'application/json')
        .set('x-request-id', 'req-malformed-1')
        .send('{"meeting_id": ')
        .expect(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'malformed_json', message: 'Request body is not valid JSON', requestId: 'req-malformed-1' });
      expect(res.headers['x-request-id']).toBe('req-malformed-1');
    });

    it('answers an oversized body with 413 in the same shape', async () => {
      const big = JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) });
      const res = await request(ctx.hub.app.getHttpServer())
        .post('/api/v1/sessions')
        .set('x-api-key', API_KEY)
        .set('Content-Type', 'application/json')
        .send(big)
        .expect(413);
      expect(res.body).toMatchObject({ statusCode: 413, error: 'payload_too_large' });
    });

    it('serves the OpenAPI document behind admin credentials', async () => {
      const server = ctx.hub.app.getHttpServer();
      await request(server).get('/docs-json').expect(401);
      const doc = await request(server).get('/docs-json').set('Authorization', ADMIN_AUTH).expect(200);
      expect(doc.body.info.title).toBe('RTMS Hub API');
    });

    it('sets security headers (helmet) and hides the framework', async () => {
      const res = await request(ctx.hub.app.getHttpServer()).get('/health/live').expect(200);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('readiness when Redis is unreachable', () => {
    it('reports 503 with redis down and database up', async () => {
      const hub = await startTestApp({ api: true }, { REDIS_URL: 'redis://127.0.0.1:1' });
      try {
        const res = await request(hub.app.getHttpServer()).get('/health/ready').expect(503);
        expect(res.body).toMatchObject({ statusCode: 503 });
        expect(res.body.details.redis.status).toBe('down');
        expect(res.body.details.database.status).toBe('up');
      } finally {
        await hub.close();
      }
    });

    it('closes without leaving a failure behind when Redis never answered', async () => {
      // Redis resets every connection, then holds the next ones unanswered: the hub's queue
      // connections are still starting when it closes. Their start used to fail after close
      // as an unheard 'error', an unhandled rejection that failed whichever test ran next.
      const redis = await new StallingRedis().start();
      try {
        const hub = await startTestApp({ api: true }, { REDIS_URL: redis.url });
        try {
          const res = await request(hub.app.getHttpServer()).get('/health/ready').expect(503);
          expect(res.body.details.redis.status).toBe('down');
          redis.resetting = false;
          await waitFor(() => redis.holdingCount >= ALL_QUEUES.length, { what: "the hub's Redis clients to be starting again" });
        } finally {
          await hub.close();
        }
        // The closed hub let go of every connection; what failing starts do next has run by
        // the next turn of the event loop, while this test is still the one running.
        await waitFor(() => redis.holdingCount === 0, { what: 'the closed hub to drop its Redis connections' });
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        await redis.stop();
      }
    });
  });

  describe('queue consumption by role', () => {
    it('jobs wait while only an API process runs, then a worker consumes every queue', async () => {
      const api = await startTestApp({ api: true });
      const handled: HandledJob[] = [];
      let worker: TestApp | undefined;
      try {
        const enqueued: string[] = [];
        for (const name of Object.values(JobName)) {
          const job = await api.producer.enqueue(name, samplePayload[name] as never);
          enqueued.push(job.id as string);
        }
        // The API process registers no workers: nothing can take these jobs.
        for (const queue of api.producer.allQueues()) {
          expect(await queue.getWorkersCount()).toBe(0);
        }
        const waiting = await Promise.all(api.producer.allQueues().map((q) => q.getWaitingCount()));
        expect(waiting.reduce((a, b) => a + b, 0)).toBe(Object.values(JobName).length);

        worker = await startTestApp({ api: false, worker: { queues: [...ALL_QUEUES], explicit: false, registrations: recordingRegistrations(handled) } });
        await waitFor(() => handled.length === Object.values(JobName).length, { what: 'every job to be handled' });
        for (const queue of ALL_QUEUES) {
          const names = handled.filter((h) => h.queue === queue).map((h) => h.name).sort();
          expect(names).toEqual(jobsOfQueue(queue).sort());
        }
        expect(handled.find((h) => h.name === JobName.ZoomEventProcess)?.data).toEqual({ eventId: 'evt-1' });
        // The API-only process serves no app routes' processors, and the worker no app routes.
        await request(worker.app.getHttpServer()).get('/admin/queues').expect(404);
      } finally {
        await obliterateQueues(api.producer);
        await worker?.close();
        await api.close();
      }
    });

    it('a worker started for some queues consumes only those', async () => {
      const handled: HandledJob[] = [];
      const regs = recordingRegistrations(handled);
      const worker = await startTestApp({ api: false, worker: { queues: ['oauth' as never], explicit: true, registrations: regs } });
      try {
        await worker.producer.enqueue(JobName.TokenRefresh, { connectionId: 'c9' });
        await worker.producer.enqueue(JobName.RoomJoin, { dispatchId: 'd9' });
        await waitFor(() => handled.length >= 1, { what: 'the oauth job' });
        expect(await worker.producer.queueFor(JobName.RoomJoin).getWorkersCount()).toBe(0);
        expect(await worker.producer.queueFor(JobName.RoomJoin).getWaitingCount()).toBe(1);
        expect(handled.map((h) => h.name)).toEqual([JobName.TokenRefresh]);
      } finally {
        await obliterateQueues(worker.producer);
        await worker.close();
      }
    });
  });
});
