import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Worker } from 'bullmq';
import Redis from 'ioredis';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../../../common/errors/error-message';
import { isRedisConnectionError, redisOutage } from '../../../common/logging/redis-outage-log';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import { QueueName } from '../../../jobs/queue-names';
import { RunningStreams } from '../stream/running-streams';
import { fairShare, FairShareDecision } from './fair-share';
import { HEARTBEAT_MS, liveRegistrations, orphanDrainRequests, WorkerRegistration, workerKeys } from './stream-workers.registry';

/** How long a job this worker will not take waits before it is offered again (plus jitter). */
const PUT_BACK_MS = 200;

/**
 * This stream worker in the fleet: registers itself every second (id, spool host, streams,
 * cap, draining), decides whether it takes one more stream (fair-share.ts), and, when asked
 * to drain (`npm run worker:drain`), stops fetching and hands its streams over one at a
 * time through the SIGTERM path (sockets closed, job back to `wait`, another worker
 * reconnects at once). docs/operations.md.
 */
@Injectable()
export class StreamWorkerPresence implements OnApplicationShutdown {
  private readonly logger = new Logger(StreamWorkerPresence.name);
  private worker: Worker | null = null;
  private keys: ReturnType<typeof workerKeys> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Streams admitted and not ended: counted at once, so concurrent decisions see each other. */
  private admitted = 0;
  private deciding: Promise<unknown> = Promise.resolve();
  private draining = false;
  private drainLoop: Promise<void> | null = null;
  private stopped = false;
  private others: WorkerRegistration[] = [];
  private readonly cap: number;
  private readonly slack: number;
  private readonly drainIntervalMs: number;
  private readonly spoolHost: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly running: RunningStreams,
  ) {
    this.cap = config.get('queues', { infer: true }).concurrency[QueueName.RtmsStreams];
    const workers = config.get('rtms', { infer: true }).workers;
    this.slack = workers.balanceSlack;
    this.drainIntervalMs = workers.drainIntervalMs;
    this.spoolHost = config.get('storage', { infer: true }).spoolHost;
  }

  get workerId(): string {
    return this.running.workerId;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Starts the heartbeat for the rtms-streams worker of this process. */
  attach(worker: Worker): void {
    this.worker = worker;
    this.keys = workerKeys(worker.qualifiedName);
    void this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /**
   * Whether this worker runs one more stream now. Decisions are taken one at a time so each
   * sees the streams admitted before it. Fails open: if Redis cannot answer, the worker
   * takes the stream (a stream nobody runs loses media; an uneven spread does not).
   */
  admit(): Promise<{ admit: true } | { admit: false; retryAt: number; decision: FairShareDecision }> {
    const next = this.deciding.then(async () => {
      let decision: FairShareDecision;
      try {
        decision = await this.decide();
      } catch (err) {
        this.reportFailure('Fair-share check failed (taking the stream)', err);
        decision = { admit: true, share: this.cap, reason: 'only_worker_left' };
      }
      if (decision.admit) {
        this.admitted++;
        return { admit: true as const };
      }
      return { admit: false as const, retryAt: Date.now() + PUT_BACK_MS + Math.floor(Math.random() * PUT_BACK_MS), decision };
    });
    this.deciding = next.catch(() => undefined);
    return next;
  }

  /** An admitted stream's job ended in this process (stopped, handed over, failed). */
  released(): void {
    this.admitted = Math.max(0, this.admitted - 1);
  }

  private async decide(): Promise<FairShareDecision> {
    const worker = this.worker;
    const keys = this.keys;
    if (!worker || !keys) return { admit: true, share: this.cap, reason: 'only_worker_left' };
    const qn = worker.qualifiedName;
    const res = await this.redis
      .multi()
      .llen(`${qn}:active`)
      .llen(`${qn}:wait`)
      .zcard(`${qn}:delayed`)
      .zcard(`${qn}:prioritized`)
      .hgetall(keys.workers)
      .exec();
    if (!res) throw new Error('transaction aborted');
    for (const [err] of res) if (err) throw err;
    const [active, wait, delayed, prioritized] = res.slice(0, 4).map(([, n]) => Number(n));
    const { live } = liveRegistrations(res[4][1] as Record<string, string>, Date.now());
    this.others = live.filter((w) => w.id !== this.workerId);
    return fairShare({
      self: { id: this.workerId, running: this.admitted, cap: this.cap, draining: this.draining },
      others: this.others,
      demand: active + wait + delayed + prioritized,
      slack: this.slack,
    });
  }

  private registration(): WorkerRegistration {
    return { id: this.workerId, running: this.admitted, cap: this.cap, draining: this.draining, spoolHost: this.spoolHost, hostname: hostname(), pid: process.pid, at: Date.now() };
  }

  private async heartbeat(): Promise<void> {
    const keys = this.keys;
    if (!keys || this.stopped) return;
    try {
      const now = Date.now();
      const res = await this.redis
        .multi()
        .hset(keys.workers, this.workerId, JSON.stringify(this.registration()))
        .hset(keys.spoolHosts, this.spoolHost, String(now))
        .hget(keys.drain, this.workerId)
        .hgetall(keys.workers)
        .hkeys(keys.drain)
        .exec();
      if (!res || this.stopped) return;
      const drainRequested = res[2][1] !== null;
      const registered = (res[3][1] ?? {}) as Record<string, string>;
      const { live, stale } = liveRegistrations(registered, now);
      this.others = live.filter((w) => w.id !== this.workerId);
      if (stale.length > 0) await this.redis.hdel(keys.workers, ...stale);
      const orphans = orphanDrainRequests((res[4][1] ?? []) as string[], registered, stale);
      if (orphans.length > 0) await this.redis.hdel(keys.drain, ...orphans);
      if (drainRequested && !this.draining) this.startDrain();
      else if (!drainRequested && this.draining) this.stopDrain();
    } catch (err) {
      this.reportFailure('Stream worker heartbeat failed', err);
    }
  }

  /** Redis being unreachable is the outage log's to report (one line per outage, not one per beat). */
  private reportFailure(what: string, err: unknown): void {
    const message = errorMessage(err);
    if (isRedisConnectionError(message)) redisOutage.failed(undefined, message);
    else this.logger.warn(`${what}: ${message}`);
  }

  private startDrain(): void {
    this.draining = true;
    this.logger.log(`Drain requested: taking no new streams; handing ${this.running.size} stream(s) over one at a time`);
    // No new fetches; the streams it holds keep running (and renewing their leases) until handed over.
    void this.worker?.pause(true).catch((err: unknown) => this.logger.warn(`Could not pause fetching: ${errorMessage(err)}`));
    this.drainLoop ??= this.handOverAll().finally(() => (this.drainLoop = null));
  }

  private stopDrain(): void {
    this.draining = false;
    this.logger.log('Drain cancelled: taking streams again');
    this.worker?.resume();
  }

  /** One stream at a time, only while another worker can take it, so the others are not hit by all at once. */
  private async handOverAll(): Promise<void> {
    while (this.draining && !this.stopped && !this.running.closing) {
      const next = this.running.ids()[0];
      if (next === undefined) {
        if (this.admitted === 0) {
          this.logger.log('Drained: this worker holds no stream and can be stopped');
          await this.heartbeat();
          return;
        }
        await sleep(200);
        continue;
      }
      if (!this.others.some((w) => !w.draining && w.running < w.cap)) {
        // Nobody could take it: handing it over would only bounce it back here.
        await sleep(HEARTBEAT_MS);
        continue;
      }
      this.logger.log(`Draining: handing stream ${next} over (${this.running.size - 1} left after it)`);
      await this.running.handOver(next);
      await sleep(this.drainIntervalMs);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const keys = this.keys;
    if (!keys) return;
    // Gone at once rather than after the registration's expiry; the spool host's last-seen stays.
    await this.redis
      .multi()
      .hdel(keys.workers, this.workerId)
      .hdel(keys.drain, this.workerId)
      .hset(keys.spoolHosts, this.spoolHost, String(Date.now()))
      .exec()
      .catch((err: unknown) => this.logger.warn(`Could not remove this worker's registration: ${errorMessage(err)}`));
  }
}
