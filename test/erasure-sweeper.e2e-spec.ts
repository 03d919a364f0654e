import { UnrecoverableError } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { jobIdFor } from '../src/jobs/job-ids';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { MaintenanceProcessor } from '../src/modules/retention';
import { ErasureService } from '../src/modules/retention/erasure/erasure.service';
import { ErasureSweeper } from '../src/modules/retention/erasure/erasure.sweeper';
import { ErasuresRepository } from '../src/modules/retention/erasure/erasures.repository';
import { insertSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor, waitForJobState } from './utils/wait-for';

jest.setTimeout(60_000);

interface ErasureRow {
  status: string;
  subject_sealed: string | null;
  error: string | null;
}

/**
 * Erasures whose job will not finish them (docs/retention.md "Erasure"): the job lost by
 * Redis (or never queued), and the job failed for good while Postgres could not record
 * it. Either way the row says queued/running and keeps the sealed subject; the sweeper
 * in the `maintenance` workers queues the job again and the erasure completes.
 */
describe('Erasure sweeper: erasures whose job is gone or finished', () => {
  const ctx = useE2eContext({ hub: { api: true, worker: { queues: [QueueName.Maintenance], explicit: true } } });

  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => query<T>(ctx.hub.app, text, params);
  const queue = () => ctx.hub.producer.queue(QueueName.Maintenance);
  const jobId = (erasureId: string) => jobIdFor(JobName.ErasureRun, { erasureId }) as string;
  const row = async (id: string) => (await sql<ErasureRow>(`SELECT status, subject_sealed, error FROM erasures WHERE id = $1`, [id]))[0];

  /** A stopped session with one participant of a user id no other spec uses; returns the user id. */
  async function seedPerson(): Promise<{ sessionId: string; userId: string }> {
    const userId = String(930_000_000 + Math.floor(Math.random() * 60_000_000));
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `erasure-sweeper-${userId}==`, status: 'stopped' });
    await sql(`INSERT INTO participants (session_id, zoom_user_id, user_name) VALUES ($1, $2, 'Sweepy'), ($1, '930', 'Other')`, [sessionId, userId]);
    return { sessionId, userId };
  }

  /** Asks for the erasure with the maintenance worker paused, runs `meanwhile`, then lets the worker go. */
  async function requestPaused(userId: string, meanwhile: (erasureId: string) => Promise<void>): Promise<string> {
    const worker = ctx.hub.app.get(MaintenanceProcessor).worker;
    await worker.pause();
    try {
      const res = await ctx.http().post('/api/v1/erasures').set('x-api-key', API_KEY).send({ zoom_user_id: userId }).expect(202);
      expect(res.body.status).toBe('queued');
      await meanwhile(res.body.id as string);
      return res.body.id as string;
    } finally {
      worker.resume();
    }
  }

  async function completed(id: string) {
    return waitFor(
      async () => {
        const r = await ctx.http().get(`/api/v1/erasures/${id}`).set('x-api-key', API_KEY).expect(200);
        return r.body.status === 'completed' ? (r.body as { counts: Record<string, number>; affected_sessions: string[] }) : undefined;
      },
      { timeoutMs: 20_000, what: `erasure ${id} to complete` },
    );
  }

  async function expectErased(id: string, sessionId: string) {
    const done = await completed(id);
    expect(done.affected_sessions).toEqual([sessionId]);
    expect(done.counts.participants).toBe(1);
    expect(await row(id)).toMatchObject({ status: 'completed', subject_sealed: null, error: null });
    expect(await sql(`SELECT zoom_user_id FROM participants WHERE session_id = $1`, [sessionId])).toEqual([{ zoom_user_id: '930' }]);
  }

  it('re-queues an erasure whose job Redis lost, and it completes; a waiting job is left alone', async () => {
    const { sessionId, userId } = await seedPerson();
    const sweeper = ctx.hub.app.get(ErasureSweeper, { strict: false });
    const id = await requestPaused(userId, async (erasureId) => {
      const job = (await queue().getJob(jobId(erasureId)))!;
      expect(await job.getState()).toBe('waiting');
      // A live job is left as it is (not replaced).
      await sweeper.sweep(0);
      expect((await queue().getJob(jobId(erasureId)))?.timestamp).toBe(job.timestamp);
      // Redis loses the job before any worker took it (a flush, a failover to a stale replica).
      await job.remove();
    });
    expect(await queue().getJob(jobId(id))).toBeUndefined();
    expect(await row(id)).toMatchObject({ status: 'queued' });
    expect((await row(id)).subject_sealed).not.toBeNull();

    expect(await sweeper.sweep(0)).toBeGreaterThanOrEqual(1);
    await expectErased(id, sessionId);
    await waitForJobState(queue(), jobId(id), 'completed');
  });

  it('looks past a full page of erasures whose jobs are live to the abandoned one behind them', async () => {
    // 101 erasures updated in one statement (one updated_at, to the microsecond): the
    // first 100 in the sweeper's order have live (delayed) jobs, the last has none.
    const ids = Array.from({ length: 101 }, () => randomUUID()).sort();
    const abandoned = ids[ids.length - 1];
    const worker = ctx.hub.app.get(MaintenanceProcessor).worker;
    const sweeper = ctx.hub.app.get(ErasureSweeper, { strict: false });
    await worker.pause();
    try {
      await sql(
        `INSERT INTO erasures (id, status, subject_kind, subject_hash, updated_at)
         SELECT id, 'queued', 'zoom_user_id', repeat('0', 64), now() - interval '1 hour' FROM unnest($1::uuid[]) AS id`,
        [ids],
      );
      for (const erasureId of ids.slice(0, -1)) await queue().add(JobName.ErasureRun, { erasureId }, { jobId: jobId(erasureId), delay: 600_000 });
      expect(await sweeper.sweep(0)).toBeGreaterThanOrEqual(1);
      expect(await queue().getJobState(jobId(abandoned))).toBe('waiting');
      for (const erasureId of ids.slice(0, -1)) expect(await queue().getJobState(jobId(erasureId))).toBe('delayed');
    } finally {
      await Promise.all(ids.map((erasureId) => queue().remove(jobId(erasureId))));
      await sql(`DELETE FROM erasures WHERE id = ANY($1::uuid[])`, [ids]);
      worker.resume();
    }
  });

  it('re-runs an erasure whose job failed for good while marking it failed failed too (Postgres down), and it completes', async () => {
    const { sessionId, userId } = await seedPerson();
    const service = ctx.hub.app.get(ErasureService, { strict: false });
    const repo = ctx.hub.app.get(ErasuresRepository, { strict: false });
    const run = service.run.bind(service);
    const markFailed = service.markFailed.bind(service);
    let target = '';
    let runs = 0;
    let markFailedCalls = 0;
    // The first run has taken the erasure (running) when it fails for good; the failure
    // cannot be recorded, as the database is away at that moment.
    const runSpy = jest.spyOn(service, 'run').mockImplementation(async (erasureId) => {
      if (erasureId !== target) return run(erasureId);
      if (runs++ === 0) {
        await repo.markRunning(erasureId);
        throw new UnrecoverableError('storage refused the delete');
      }
      return run(erasureId);
    });
    const markFailedSpy = jest.spyOn(service, 'markFailed').mockImplementation(async (erasureId, error) => {
      if (erasureId !== target) return markFailed(erasureId, error);
      if (markFailedCalls++ === 0) throw new Error('Connection terminated unexpectedly');
      return markFailed(erasureId, error);
    });
    try {
      const id = await requestPaused(userId, async (erasureId) => {
        target = erasureId;
      });
      await waitForJobState(queue(), jobId(id), 'failed');
      await waitFor(() => markFailedCalls > 0, { what: 'onFinalFailure to try to mark the erasure failed' });
      // Stuck: running for ever, its sealed subject kept.
      const stuck = await row(id);
      expect(stuck.status).toBe('running');
      expect(stuck.subject_sealed).not.toBeNull();

      const sweeper = ctx.hub.app.get(ErasureSweeper, { strict: false });
      expect(await sweeper.sweep(0)).toBeGreaterThanOrEqual(1);
      await expectErased(id, sessionId);
      expect(runs).toBe(2);
      expect(markFailedCalls).toBe(1);
      await waitForJobState(queue(), jobId(id), 'completed');
    } finally {
      runSpy.mockRestore();
      markFailedSpy.mockRestore();
    }
  });
});
