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
import { HEARTBEAT_MS, liveRegistrations, orphanDrainRequests, peerRegistrations, TAKER_FRESH_MS, WorkerRegistration, workerKeys } from './stream-workers.registry';

/** How long a job this worker will not take waits before it is offered again (plus jitter). */
const PUT_BACK_MS = 200;

/** A stream handed over must be running on another worker within this, or the drain stops handing over and this worker fetches again. */
export const HAND_OVER_CONFIRM_MS = 3_000;
/**
 * A handed-over job counts as running elsewhere once the same fetch (lock token) has held
 * it this long: a worker that refuses a job (fair share) puts it back within a few Redis
 * round trips of fetching it, so a job active for a moment is not yet taken.
 */
export const HAND_OVER_HOLD_MS = 500;
/** After a hand-over nobody took, the drain waits this long before it tries again. */
export const HAND_OVER_RETRY_MS = 5_000;
const POLL_MS = 100;

/** Where a stream job is: held by a fetch (its lock token), waiting in the queue, or gone (finished or removed). */
type JobPlace = { where: 'held'; token: string } | { where: 'queued' } | { where: 'gone' };

/**
 * This stream worker in the fleet: registers itself every second (id, spool host, streams,
 * cap, draining), decides whether it takes one more stream (fair-share.ts), and, when asked
 * to drain (`npm run worker:drain`), hands its streams over one at a time through the
 * SIGTERM path (sockets closed, job back to `wait`, another worker reconnects at once).
 * docs/operations.md.
 *
 * A drain never leaves a stream with nobody: it says it is draining before it hands
 * anything over; it hands a stream over only to a fresh, non-draining worker with a free
 * place (read from Redis just before, counting the streams it handed over since that
 * worker's last heartbeat); it checks that the stream runs on another worker before the
 * next one; and when no other worker can take streams (or one it handed over was not
 * taken) it fetches again, so the fair share's "even a draining worker takes it" applies.
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
  /** Shutting down: the streams are being handed back; registered as draining so nobody counts on this worker. */
  private leaving = false;
  private stopped = false;
  /** Whether this worker asked BullMQ to fetch (false while a drain hands streams over). */
  private fetching = true;
  /** The stream handed over last, until it runs somewhere (published as `handingOver`). */
  private handingOver: string | null = null;
  /** A stream handed over that nobody took: this worker takes it back regardless of the share. */
  private reclaim: string | null = null;
  /** Other workers' registration times (`at`) as seen when each recent hand-over was confirmed. */
  private confirmed: Array<{ confirmedAt: number; seenAt: Map<string, number> }> = [];
  private drained = false;
  private readonly cap: number;
  private readonly slack: number;
  private readonly drainIntervalMs: number;
  private readonly spoolHost: string;
  /** Tunable in tests. */
  protected handOverConfirmMs = HAND_OVER_CONFIRM_MS;
  protected handOverRetryMs = HAND_OVER_RETRY_MS;

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
    // On SIGTERM, before the streams are handed back: they must not be offered to this worker's free places.
    running.onLeaving(() => this.leave());
  }

  get workerId(): string {
    return this.running.workerId;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Draining, and nothing left here or on the way to another worker. */
  get isDrained(): boolean {
    return this.draining && this.drained;
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
   * `starving`: the job was put back too often (fair-share.ts isStarving).
   */
  admit(job: { jobId?: string; starving?: boolean } = {}): Promise<{ admit: true } | { admit: false; retryAt: number; decision: FairShareDecision }> {
    const next = this.deciding.then(async () => {
      let decision: FairShareDecision;
      try {
        decision = await this.decide(job.starving === true || (job.jobId !== undefined && job.jobId === this.reclaim));
      } catch (err) {
        this.reportFailure('Fair-share check failed (taking the stream)', err);
        decision = { admit: true, share: this.cap, reason: 'only_worker_left' };
      }
      if (decision.admit) {
        this.admitted++;
        if (job.jobId !== undefined && job.jobId === this.reclaim) this.reclaim = null;
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

  private async decide(starving: boolean): Promise<FairShareDecision> {
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
      .hkeys(keys.drain)
      .exec();
    if (!res) throw new Error('transaction aborted');
    for (const [err] of res) if (err) throw err;
    const [active, wait, delayed, prioritized] = res.slice(0, 4).map(([, n]) => Number(n));
    return fairShare({
      self: { id: this.workerId, running: this.admitted, cap: this.cap, draining: this.draining || this.leaving },
      others: peerRegistrations(res[4][1] as Record<string, string>, (res[5][1] ?? []) as string[], Date.now(), this.workerId),
      demand: active + wait + delayed + prioritized,
      slack: this.slack,
      starving,
    });
  }

  private registration(): WorkerRegistration {
    return {
      id: this.workerId,
      running: this.admitted,
      cap: this.cap,
      // A worker shutting down says it takes nothing, like a draining one.
      draining: this.draining || this.leaving,
      spoolHost: this.spoolHost,
      hostname: hostname(),
      pid: process.pid,
      at: Date.now(),
      handingOver: this.handingOver === null ? 0 : 1,
    };
  }

  /** Writes this worker's registration now (a drain starting, a hand-over, shutdown), not at the next heartbeat. */
  private async publish(): Promise<void> {
    const keys = this.keys;
    if (!keys || this.stopped) return;
    await this.redis.multi().hset(keys.workers, this.workerId, JSON.stringify(this.registration())).exec();
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
      const { stale } = liveRegistrations(registered, now);
      if (stale.length > 0) await this.redis.hdel(keys.workers, ...stale);
      const orphans = orphanDrainRequests((res[4][1] ?? []) as string[], registered, stale);
      if (orphans.length > 0) await this.redis.hdel(keys.drain, ...orphans);
      if (this.leaving) return;
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
    this.drained = false;
    this.logger.log(`Drain requested: taking no new streams; handing ${this.running.size} stream(s) over one at a time`);
    this.drainLoop ??= this.handOverAll().finally(() => (this.drainLoop = null));
  }

  private stopDrain(): void {
    this.draining = false;
    this.drained = false;
    this.handingOver = null;
    this.logger.log('Drain cancelled: taking streams again');
    this.setFetching(true);
    void this.publish().catch((err: unknown) => this.reportFailure('Could not publish the end of the drain', err));
  }

  /** BullMQ fetches (or not). A draining worker fetches only while no other worker can take streams. */
  private setFetching(on: boolean): void {
    if (on === this.fetching || !this.worker || this.running.closing) return;
    this.fetching = on;
    if (on) {
      this.worker.resume();
    } else {
      // No new fetches; the streams it holds keep running (and renewing their leases) until handed over.
      void this.worker.pause(true).catch((err: unknown) => this.logger.warn(`Could not pause fetching: ${errorMessage(err)}`));
    }
  }

  /**
   * One stream at a time, each only to a worker that can take it now, each checked to run
   * there before the next, so a stream is never left in the queue with nobody fetching it.
   */
  private async handOverAll(): Promise<void> {
    // Draining before anything is handed over: no other worker may count on this one meanwhile.
    await this.publish().catch((err: unknown) => this.reportFailure('Could not publish the drain', err));
    let retryAt = 0;
    let saidNoTaker = false;
    while (this.draining && !this.stopped && !this.running.closing) {
      try {
        const stranded = this.handingOver;
        if (stranded !== null) {
          // Handed over and nobody took it: this worker fetches again (and takes it back
          // regardless of the share) until it runs somewhere; not drained meanwhile.
          if (!(await this.runsSomewhere(stranded, { othersOnly: false, withinMs: HEARTBEAT_MS }))) continue;
          this.handingOver = null;
          this.reclaim = null;
          await this.publish();
        }
        const { takers, free } = await this.freePlaces();
        if (takers === 0) {
          // Even a draining worker takes a stream nobody else can (fair-share.ts): it must fetch for that.
          if (!saidNoTaker && this.running.size > 0) this.logger.warn('Draining, but no other worker can take streams: keeping them (and taking new ones) until one can');
          saidNoTaker = true;
          this.setFetching(true);
        } else {
          saidNoTaker = false;
          if (Date.now() >= retryAt) this.setFetching(false);
        }
        const next = this.running.ids()[0];
        if (next === undefined) {
          if (this.admitted === 0 && !this.drained) {
            this.drained = true;
            this.logger.log('Drained: this worker holds no stream and can be stopped');
            await this.publish();
          }
          await sleep(this.admitted === 0 ? HEARTBEAT_MS : 200);
          continue;
        }
        this.drained = false;
        if (free === 0 || Date.now() < retryAt) {
          await sleep(HEARTBEAT_MS);
          continue;
        }
        const paced = sleep(this.drainIntervalMs);
        this.handingOver = next;
        await this.publish();
        this.logger.log(`Draining: handing stream ${next} over (${this.running.size - 1} left after it)`);
        await this.running.handOver(next);
        if (await this.runsSomewhere(next, { othersOnly: true, withinMs: this.handOverConfirmMs })) {
          this.handingOver = null;
          await this.publish();
          await paced;
        } else {
          this.logger.warn(`Draining: no worker took stream ${next} within ${this.handOverConfirmMs} ms; taking it back, handing over again in ${this.handOverRetryMs} ms at the earliest`);
          retryAt = Date.now() + this.handOverRetryMs;
          this.reclaim = next;
          this.setFetching(true);
          await this.publish();
        }
      } catch (err) {
        this.reportFailure('Drain step failed', err);
        await sleep(HEARTBEAT_MS);
      }
    }
    this.handingOver = null;
  }

  /**
   * Other workers' places for one more stream, from their registrations read now. `takers`:
   * those that say they can take one (fresh, not draining nor asked to, below their cap).
   * `free`: their free places less the streams this worker handed over that may have landed
   * there since their last heartbeat (their `running` does not show them yet).
   */
  private async freePlaces(): Promise<{ takers: number; free: number }> {
    const keys = this.keys!;
    const res = await this.redis.multi().hgetall(keys.workers).hkeys(keys.drain).exec();
    if (!res) throw new Error('transaction aborted');
    for (const [err] of res) if (err) throw err;
    const now = Date.now();
    this.confirmed = this.confirmed.filter((c) => now - c.confirmedAt <= TAKER_FRESH_MS);
    let takers = 0;
    let free = 0;
    for (const w of peerRegistrations(res[0][1] as Record<string, string>, (res[1][1] ?? []) as string[], now, this.workerId)) {
      if (w.draining || w.running >= w.cap) continue;
      takers++;
      const unseen = this.confirmed.filter((c) => c.seenAt.get(w.id) === w.at).length;
      free += Math.max(0, w.cap - w.running - unseen);
    }
    return { takers, free };
  }

  /**
   * Whether the job runs within `withinMs`: one fetch (another worker's, if `othersOnly`)
   * holds it for HAND_OVER_HOLD_MS, or it ended meanwhile (the meeting did).
   */
  private async runsSomewhere(jobId: string, { othersOnly, withinMs }: { othersOnly: boolean; withinMs: number }): Promise<boolean> {
    const own = `${this.worker!.id}:`;
    const deadline = Date.now() + withinMs;
    let token: string | null = null;
    let since = 0;
    while (!this.stopped && !this.running.closing) {
      const place = await this.place(jobId);
      const now = Date.now();
      if (place.where === 'gone') return true;
      if (place.where === 'held' && !(othersOnly && place.token.startsWith(own))) {
        if (place.token !== token) [token, since] = [place.token, now];
        else if (now - since >= HAND_OVER_HOLD_MS) {
          await this.rememberConfirmation();
          return true;
        }
      } else token = null;
      if (now >= deadline) return false;
      await sleep(POLL_MS);
    }
    return false;
  }

  /** The registrations as they are now: until one is rewritten, its `running` may not count the stream just handed over. */
  private async rememberConfirmation(): Promise<void> {
    const all = await this.redis.hgetall(this.keys!.workers);
    const now = Date.now();
    this.confirmed.push({ confirmedAt: now, seenAt: new Map(liveRegistrations(all, now).live.map((w) => [w.id, w.at])) });
  }

  /** Held (its lock and the fetch's token), queued (wait, paused, delayed, prioritized, or active with no lock), or gone. */
  private async place(jobId: string): Promise<JobPlace> {
    const qn = this.worker!.qualifiedName;
    const res = await this.redis
      .multi()
      .get(`${qn}:${jobId}:lock`)
      .lpos(`${qn}:active`, jobId)
      .lpos(`${qn}:wait`, jobId)
      .lpos(`${qn}:paused`, jobId)
      .zscore(`${qn}:delayed`, jobId)
      .zscore(`${qn}:prioritized`, jobId)
      .exec();
    if (!res) throw new Error('transaction aborted');
    for (const [err] of res) if (err) throw err;
    const [lock, active, ...queued] = res.map(([, v]) => v);
    if (active !== null && typeof lock === 'string') return { where: 'held', token: lock };
    return active !== null || queued.some((v) => v !== null) ? { where: 'queued' } : { where: 'gone' };
  }

  /** SIGTERM (RunningStreams' leaving hook): draining before the streams are handed back. */
  private async leave(): Promise<void> {
    this.leaving = true;
    await this.publish().catch((err: unknown) => this.logger.warn(`Could not publish that this worker is leaving: ${errorMessage(err)}`));
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
