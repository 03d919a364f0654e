import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { errorMessage } from '../../../common/errors/error-message';
import { dedicatedRedis } from '../../../common/redis/dedicated-redis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import type { RedisTopology } from '../../../config/redis-topology';
import { ALL_SESSIONS, LiveBinaryMedia, LiveKeys, liveKeys, packFrames } from '../live-protocol';
import { DistinctErrorLog } from '../../../common/logging/distinct-error-log';
import { FrameSink, LiveMediaTap } from './live-media-tap';
import { LivePublishMetrics } from './live-publish-metrics';
import { wantedMediaOf } from './media-registry';

interface SessionFrames {
  frames: Buffer[];
  count: Record<LiveBinaryMedia, number>;
  bytes: Record<LiveBinaryMedia, number>;
}

/**
 * Frames are gathered this long before one pipeline takes them all: audio arrives one
 * packet per event-loop turn, and a pipeline per packet would cost Redis, this process and
 * every API process a message each (at 50 meetings × 5 voices, thousands a second).
 */
const FLUSH_DELAY_MS = 5;
/** Publish pipelines in flight at once; frames queued meanwhile go out together when one completes. */
const MAX_PUBLISHES_IN_FLIGHT = 2;
/** Frames waiting for Redis beyond this many bytes are dropped (and counted): a slow Redis must not pile media up in memory. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

/**
 * The process's live media: the subscription registry of the sessions its streams run
 * (re-read every `live.registryPollMs`, and at once on a `mediaWantChanged` notice), the
 * taps that ask it, and one pipelined PUBLISH per session every few milliseconds of what the
 * taps framed. Media is never replayed: frames Redis did not take are dropped and counted.
 */
@Injectable()
export class LiveMediaPublisher implements FrameSink, OnApplicationShutdown {
  private readonly logger = new Logger(LiveMediaPublisher.name);
  private readonly registryFailures = new DistinctErrorLog(this.logger, 'Reading the live media registry');
  private readonly publishFailures = new DistinctErrorLog(this.logger, 'Publishing live media');
  private readonly keys: LiveKeys;
  private readonly redisTopology: RedisTopology;
  private readonly pollMs: number;
  private readonly taps = new Map<string, Set<LiveMediaTap>>();
  private pending = new Map<string, SessionFrames>();
  private flushScheduled = false;
  private publishesInFlight = 0;
  private pendingBytes = 0;
  private shutDown = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private subscriber: Redis | null = null;
  /** Media has its own connection: a burst of frames must not queue ahead of the leases and locks on the shared client. */
  private publisher: Redis | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshQueued: Promise<void> | null = null;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
    private readonly metrics: LivePublishMetrics,
  ) {
    this.keys = liveKeys(config.get('queues', { infer: true }).prefix);
    this.redisTopology = config.get('redis', { infer: true });
    this.pollMs = config.get('live', { infer: true }).registryPollMs;
  }

  /** A tap for one stream of `sessionId`; close it when the stream ends. */
  openTap(sessionId: string): LiveMediaTap {
    const tap = new LiveMediaTap(sessionId, this, (t) => this.forget(t));
    const siblings = this.taps.get(sessionId);
    if (siblings) {
      // Another stream of the session already knows what is wanted.
      tap.setWanted(siblings.values().next().value!.currentlyWanted);
      siblings.add(tap);
    } else {
      this.taps.set(sessionId, new Set([tap]));
    }
    this.watch();
    void this.refresh();
    return tap;
  }

  /** Re-reads the registry for every session with a tap; resolves after a read that began after the call. */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.readRegistry().finally(() => (this.refreshing = null));
      return this.refreshing;
    }
    this.refreshQueued ??= this.refreshing.then(() => {
      this.refreshQueued = null;
      return this.refresh();
    });
    return this.refreshQueued;
  }

  queueFrame(sessionId: string, media: LiveBinaryMedia, frame: Buffer): void {
    if (this.pendingBytes + frame.length > MAX_PENDING_BYTES) {
      this.metrics.errors.inc({ kind: 'media' });
      this.publishFailures.failed(`Redis is behind (over ${MAX_PENDING_BYTES} bytes of frames waiting); frames dropped`);
      return;
    }
    let q = this.pending.get(sessionId);
    if (!q) {
      q = { frames: [], count: { audio: 0, video: 0, deskshare: 0 }, bytes: { audio: 0, video: 0, deskshare: 0 } };
      this.pending.set(sessionId, q);
    }
    q.frames.push(frame);
    q.count[media] += 1;
    q.bytes[media] += frame.length;
    this.pendingBytes += frame.length;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.publishesInFlight >= MAX_PUBLISHES_IN_FLIGHT) return;
    this.flushScheduled = true;
    setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    this.shutDown = true;
    this.stopPolling();
    const connections = [this.subscriber, this.publisher];
    this.subscriber = null;
    this.publisher = null;
    await Promise.all(connections.map((c) => (c && c.status !== 'end' ? c.quit().catch(() => c.disconnect()) : undefined)));
  }

  private flush(): void {
    this.flushScheduled = false;
    // Two pipelines at most: what arrives meanwhile waits (bounded by MAX_PENDING_BYTES) and goes out in the next one.
    if (this.shutDown || this.pending.size === 0 || this.publishesInFlight >= MAX_PUBLISHES_IN_FLIGHT) return;
    const batch = this.pending;
    this.pending = new Map();
    this.pendingBytes = 0;
    const sessions = [...batch.keys()];
    this.publisher ??= this.openPublisher();
    const pipeline = this.publisher.pipeline();
    for (const [sessionId, q] of batch) pipeline.publish(this.keys.mediaChannel(sessionId), packFrames(q.frames));
    this.publishesInFlight += 1;
    pipeline
      .exec()
      .then(
        (results) => {
          sessions.forEach((sessionId, i) => {
            const q = batch.get(sessionId)!;
            const err = results?.[i]?.[0];
            if (err) {
              this.dropped(q);
              this.publishFailures.failed(err.message);
            } else {
              this.published(q);
            }
          });
          this.publishFailures.recovered();
        },
        (err: unknown) => {
          for (const q of batch.values()) this.dropped(q);
          this.publishFailures.failed(errorMessage(err));
        },
      )
      .finally(() => {
        this.publishesInFlight -= 1;
        if (this.pending.size > 0) this.scheduleFlush();
      });
  }

  private published(q: SessionFrames): void {
    for (const media of ['audio', 'video', 'deskshare'] as const) {
      if (q.count[media] === 0) continue;
      this.metrics.published.inc({ media }, q.count[media]);
      this.metrics.bytes.inc({ media }, q.bytes[media]);
    }
  }

  private dropped(q: SessionFrames): void {
    this.metrics.errors.inc({ kind: 'media' }, q.frames.length);
  }

  private async readRegistry(): Promise<void> {
    const sessions = [...this.taps.keys()];
    if (sessions.length === 0) return;
    const now = Date.now();
    const pipeline = this.redis.pipeline();
    pipeline.zrangebyscore(this.keys.mediaWanted(ALL_SESSIONS), now, '+inf');
    for (const s of sessions) pipeline.zrangebyscore(this.keys.mediaWanted(s), now, '+inf');
    try {
      const results = (await pipeline.exec()) ?? [];
      const firstError = results.find(([err]) => err)?.[0];
      if (firstError) throw firstError;
      const members = (i: number): string[] => (results[i]?.[1] as string[] | undefined) ?? [];
      const everySession = members(0);
      sessions.forEach((sessionId, i) => {
        const wanted = wantedMediaOf([...everySession, ...members(i + 1)]);
        for (const tap of this.taps.get(sessionId) ?? []) tap.setWanted(wanted);
      });
      this.registryFailures.recovered();
    } catch (err) {
      // The taps keep what they last knew: the next read (poll or notice) corrects them.
      this.metrics.errors.inc({ kind: 'registry' });
      this.registryFailures.failed(errorMessage(err));
    }
  }

  /** Polls and listens while some tap is open. */
  private watch(): void {
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => void this.refresh(), this.pollMs);
      this.pollTimer.unref();
    }
    if (!this.subscriber) this.subscriber = this.subscribe();
  }

  /**
   * Queues commands while (re)connecting, so the first frames after it opens are not lost
   * (MAX_PENDING_BYTES bounds what can wait); a command fails after one retry, and its
   * frames are dropped, rather than waiting out an outage.
   */
  private openPublisher(): Redis {
    return dedicatedRedis(this.redisTopology, 'live-media-publisher', { maxRetriesPerRequest: 1 });
  }

  /** One dedicated connection per process (a subscribed connection can run nothing else), opened with the first tap. */
  private subscribe(): Redis {
    const sub = dedicatedRedis(this.redisTopology, 'live-registry-subscriber');
    const failures = new DistinctErrorLog(this.logger, 'Subscribing to live registry notices');
    // Notices sent while the connection was down are lost: read the registry now.
    sub.on('ready', () => void this.refresh());
    sub.on('message', (_channel: string, sessionId: string) => {
      if (sessionId === ALL_SESSIONS || this.taps.has(sessionId)) void this.refresh();
    });
    sub.subscribe(this.keys.mediaWantChanged).catch((err: unknown) => failures.failed(errorMessage(err)));
    return sub;
  }

  private forget(tap: LiveMediaTap): void {
    const siblings = this.taps.get(tap.sessionId);
    if (!siblings) return;
    siblings.delete(tap);
    if (siblings.size === 0) this.taps.delete(tap.sessionId);
    if (this.taps.size === 0) this.stopPolling();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}
