import type { DataSource } from 'typeorm';
import { WebhookAttemptTrigger } from '../entities/webhook-attempt.entity';
import { WebhookMessageStatus } from '../entities/webhook-message.entity';
import { AttemptRecord, WebhookMessagesRepository } from './webhook-messages.repository';

/**
 * The group commit of attempt writes when its statement fails: the attempts are already
 * answered, and a failed write makes its job retry and POST again, so one failure must
 * not spread to the whole batch. The statement is faked here (its SQL is tested on real
 * Postgres in test/app-webhooks-repositories.e2e-spec.ts).
 */
describe('WebhookMessagesRepository.recordAttempt when a batched write fails', () => {
  const record = (messageId: string): AttemptRecord => ({
    attemptId: `a-${messageId}`,
    messageId,
    attemptNo: 1,
    trigger: WebhookAttemptTrigger.Scheduled,
    startedAt: new Date(),
    statusCode: 200,
    latencyMs: 3,
    responseBody: 'ok',
    error: null,
    status: WebhookMessageStatus.Succeeded,
    nextAttemptAt: null,
  });
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  /** A fake `db.query` of the attempt statement: `fail` decides, per call (its message ids), whether it throws. */
  function setup(fail: (ids: string[], call: number) => Error | null) {
    const calls: string[][] = [];
    const query = jest.fn(async (_sql: string, params: unknown[]) => {
      const ids = params[1] as string[];
      calls.push(ids);
      const err = fail(ids, calls.length);
      if (err) throw err;
      return ids.map((id) => ({ message_id: id, endpoint_failing: false }));
    });
    const repo = new WebhookMessagesRepository({ query } as unknown as DataSource);
    return { repo, calls };
  }

  it('writes each attempt on its own after the batch deadlocked: every job of the batch succeeds', async () => {
    const { repo, calls } = setup((ids, call) => (call === 1 ? pgError('40P01', 'deadlock detected') : null));
    const results = await Promise.all(['m1', 'm2', 'm3'].map((id) => repo.recordAttempt(record(id))));
    expect(results).toEqual([{ endpointFailing: false }, { endpointFailing: false }, { endpointFailing: false }]);
    expect(calls).toEqual([['m1', 'm2', 'm3'], ['m1'], ['m2'], ['m3']]);
  });

  it('fails only the job whose own record cannot be written', async () => {
    const { repo } = setup((ids) => (ids.includes('bad') ? pgError('22P05', 'unsupported Unicode escape sequence') : null));
    const results = await Promise.allSettled(['m1', 'bad', 'm3'].map((id) => repo.recordAttempt(record(id))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: '22P05' });
  });

  it('retries a lone write once after a deadlock or a dropped connection, not more', async () => {
    for (const transient of [pgError('40P01', 'deadlock detected'), new Error('Connection terminated unexpectedly')]) {
      const once = setup((_ids, call) => (call === 1 ? transient : null));
      await expect(once.repo.recordAttempt(record('m1'))).resolves.toEqual({ endpointFailing: false });
      expect(once.calls).toHaveLength(2);
      const twice = setup(() => transient);
      await expect(twice.repo.recordAttempt(record('m1'))).rejects.toBe(transient);
      expect(twice.calls).toHaveLength(2);
    }
    // Anything else fails the same way again: not retried.
    const constraint = setup(() => pgError('23505', 'duplicate key value violates unique constraint'));
    await expect(constraint.repo.recordAttempt(record('m1'))).rejects.toMatchObject({ code: '23505' });
    expect(constraint.calls).toHaveLength(1);
  });

  it('fails the rest of the batch at once when Postgres is unreachable, instead of waiting for each write', async () => {
    const down = pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432');
    const { repo, calls } = setup(() => down);
    const results = await Promise.allSettled(['m1', 'm2', 'm3', 'm4'].map((id) => repo.recordAttempt(record(id))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    // The batch, then m1 alone and its one retry: the others are not tried.
    expect(calls).toEqual([['m1', 'm2', 'm3', 'm4'], ['m1'], ['m1']]);
  });
});
