import { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { JobProducer } from '../../jobs/job-producer.service';
import { MetricsService } from './metrics.service';
import { QueueJobCounts } from './queue-job-counts';

/** A queue whose counts come from `answer` (a promise that never settles: Redis down, BullMQ waiting for it). */
function queue(name: string, answer: () => Promise<Record<string, number>>) {
  const q = { name, calls: 0, getJobCounts: () => (q.calls++, answer()) };
  return q;
}
const never = () => new Promise<Record<string, number>>(() => undefined);
/** A scrape, or a rejection if it takes 2 s. */
const scrape = (metrics: MetricsService) =>
  Promise.race([metrics.registry.metrics(), new Promise<string>((_, reject) => setTimeout(() => reject(new Error('scrape still waiting after 2 s')), 2000).unref())]);

describe('queue job counts on /metrics', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('a scrape answers within 2 s, with the process metrics, while a queue never answers (Redis down)', async () => {
    const hung = queue('hung', never);
    const metrics = new MetricsService({ allQueues: () => [hung as unknown as Queue] } as unknown as JobProducer);
    const started = Date.now();
    const text = await scrape(metrics);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(text).toContain('rtms_hub_process_cpu_user_seconds_total');
    expect(text).toContain('# TYPE rtms_hub_queue_jobs gauge');
  });

  it('keeps the last values on no answer, asks a queue again only once its read settled, and logs an outage once and its end once', async () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), log: (m: string) => lines.push(`log ${m}`) };
    const counts = new QueueJobCounts(logger, 20);
    let answer: () => Promise<Record<string, number>> = async () => ({ waiting: 3, active: 1 });
    const q = queue('q', () => answer());
    const read = () => counts.read([q as unknown as Queue]);
    expect(await read()).toEqual([{ waiting: 3, active: 1 }]);
    let release!: (c: Record<string, number>) => void;
    answer = () => new Promise((r) => (release = r));
    expect(await read()).toEqual([null]);
    expect(await read()).toEqual([null]);
    // The second scrape waited on the first unanswered read instead of queueing another command.
    expect(q.calls).toBe(2);
    expect(lines).toEqual([expect.stringMatching(/^warn Queue job counts unavailable \(no answer from Redis within 20 ms\)/)]);
    release({ waiting: 5 });
    answer = async () => ({ waiting: 6 });
    await new Promise((r) => setImmediate(r));
    expect(await read()).toEqual([{ waiting: 6 }]);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('log Queue job counts available again');
  });

  it('leaves the gauge at its last values when a later scrape gets no answer', async () => {
    let answer: () => Promise<Record<string, number>> = async () => ({ waiting: 7 });
    const q = queue('q', () => answer());
    const metrics = new MetricsService({ allQueues: () => [q as unknown as Queue] } as unknown as JobProducer);
    expect(await scrape(metrics)).toContain('rtms_hub_queue_jobs{queue="q",state="waiting"} 7');
    answer = never;
    expect(await scrape(metrics)).toContain('rtms_hub_queue_jobs{queue="q",state="waiting"} 7');
  });
});
