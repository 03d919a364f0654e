import { BeforeApplicationShutdown, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

export interface RunningStream {
  readonly rtmsStreamId: string;
  /** Ends the stream job promptly (sockets closed, job released). */
  abort(reason: 'shutdown' | 'lease_lost'): void;
  /** Its job lock was renewed by a request sent at `sentAt` (monotonic ms). */
  leaseRenewed(sentAt: number): void;
  /** Resolves when the stream's run has finished. */
  readonly done: Promise<unknown>;
}

/** How long a shutdown waits for the leaving hooks (Redis unreachable) before handing the streams back anyway. */
export const LEAVING_HOOK_TIMEOUT_MS = 500;

/**
 * The streams this process holds, and this process's worker id. On shutdown every
 * stream is aborted first so its job is handed back before the BullMQ worker closes; the
 * leaving hooks run before that (StreamWorkerPresence publishes that this worker takes no
 * stream, so the others do not count it as a place for the streams it hands back).
 */
@Injectable()
export class RunningStreams implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(RunningStreams.name);
  private readonly streams = new Map<string, RunningStream>();
  /**
   * Send time of each job's last confirmed lock renewal. Kept apart from the streams because
   * BullMQ renews from the moment the job starts, while its stream joins only after its
   * rows are read: a slow start must not make the stream's first lease look expired.
   */
  private readonly renewals = new Map<string, number>();
  readonly workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private shuttingDown = false;
  private readonly leavingHooks: Array<() => Promise<void>> = [];
  private leaving: Promise<void> | null = null;

  get size(): number {
    return this.streams.size;
  }

  get closing(): boolean {
    return this.shuttingDown;
  }

  add(stream: RunningStream): void {
    this.streams.set(stream.rtmsStreamId, stream);
    const renewed = this.renewals.get(stream.rtmsStreamId);
    if (renewed !== undefined) stream.leaseRenewed(renewed);
  }

  remove(stream: RunningStream): void {
    if (this.streams.get(stream.rtmsStreamId) === stream) this.streams.delete(stream.rtmsStreamId);
  }

  abort(rtmsStreamId: string, reason: 'shutdown' | 'lease_lost'): void {
    this.streams.get(rtmsStreamId)?.abort(reason);
  }

  /** Ids of the streams this process holds. */
  ids(): string[] {
    return [...this.streams.keys()];
  }

  /**
   * Hands one stream back as on SIGTERM (a drain): sockets closed, job back to `wait` for
   * another worker. Resolves when its run has finished.
   */
  async handOver(rtmsStreamId: string): Promise<void> {
    const s = this.streams.get(rtmsStreamId);
    if (!s) return;
    s.abort('shutdown');
    await Promise.allSettled([s.done]);
  }

  /** The job (id = rtms_stream_id) had its lock renewed by a request sent at `sentAt` (monotonic ms). */
  leaseRenewed(rtmsStreamId: string, sentAt: number): void {
    this.renewals.set(rtmsStreamId, Math.max(sentAt, this.renewals.get(rtmsStreamId) ?? -Infinity));
    this.streams.get(rtmsStreamId)?.leaseRenewed(sentAt);
  }

  /** The job ended in this process: its renewals are no longer news. */
  jobEnded(rtmsStreamId: string): void {
    this.renewals.delete(rtmsStreamId);
  }

  /** Runs `hook` when the process starts shutting down, before any stream is handed back (bounded by LEAVING_HOOK_TIMEOUT_MS). */
  onLeaving(hook: () => Promise<void>): void {
    this.leavingHooks.push(hook);
  }

  /** Hands every stream back (SIGTERM), after the leaving hooks. Idempotent. */
  async abortAll(): Promise<void> {
    this.shuttingDown = true;
    this.leaving ??= this.runLeavingHooks();
    await this.leaving;
    const all = [...this.streams.values()];
    if (all.length === 0) return;
    this.logger.log(`Handing back ${all.length} stream(s)`);
    for (const s of all) s.abort('shutdown');
    await Promise.allSettled(all.map((s) => s.done));
  }

  private async runLeavingHooks(): Promise<void> {
    if (this.leavingHooks.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, LEAVING_HOOK_TIMEOUT_MS)));
    const hooks = Promise.allSettled(this.leavingHooks.map((hook) => Promise.resolve().then(hook)));
    await Promise.race([hooks, timeout]);
    clearTimeout(timer);
  }

  onModuleDestroy(): Promise<void> {
    return this.abortAll();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.abortAll();
  }
}
