import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { errorMessage } from '../../../common/errors/error-message';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import { EventSource, SessionEventsService } from '../../sessions';
import { segmentsPayload } from '../audio/missing-audio';
import { AudioSegmentsRepository, LostSegment } from '../repositories/audio-segments.repository';
import { workerKeys } from './stream-workers.registry';

/** A spool host's heartbeat is deleted once it is this old (and past the lost grace). */
const FORGET_SILENT_HOST_MS = 24 * 3_600_000;

/** HDEL of every field of KEYS[1] whose value (ms) is below ARGV[1] (or not a number); returns how many. */
const FORGET_OLDER_THAN = `local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local at = tonumber(all[i + 1])
  if at == nil or at < tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
    n = n + 1
  end
end
return n`;

/** Spool hosts silent for `lostAfterMs`: no heartbeat recorded, or the last one too old. */
export function lostHosts(candidates: string[], lastSeen: Array<string | null>, now: number, lostAfterMs: number): string[] {
  return candidates.filter((_, i) => {
    const seen = Number(lastSeen[i] ?? 0);
    return !Number.isFinite(seen) || now - seen > lostAfterMs;
  });
}

/** The lost segments of one session, as its timeline's `media.lost` payload. */
export function lostAudioPayload(rows: LostSegment[]): Record<string, unknown> {
  return { reason: 'spool_host_lost', ...segmentsPayload(rows) };
}

/**
 * A stream worker's host that never comes back leaves open audio segments whose PCM is on
 * its disk only: no other host can write them. Every stream worker checks now and then for
 * spool hosts with no heartbeat for SPOOL_HOST_LOST_AFTER_SEC whose open segments got no
 * PCM for as long; those segments are marked `lost` and each session's timeline gets
 * `media.lost` (reason spool_host_lost) in the same transaction, so the hole is reported,
 * not silently missing. The UPDATE is atomic: with several workers checking, a segment is
 * reported once. docs/operations.md, "Lost worker hosts".
 */
@Injectable()
export class LostSpoolHosts implements OnApplicationShutdown {
  private readonly logger = new Logger(LostSpoolHosts.name);
  private readonly lostAfterMs: number;
  private readonly spoolHost: string;
  private readonly lostCounter;
  private timer: NodeJS.Timeout | null = null;
  private spoolHostsKey: string | null = null;
  private checking = false;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @InjectDataSource() private readonly db: DataSource,
    private readonly segments: AudioSegmentsRepository,
    private readonly events: SessionEventsService,
    metrics: MetricsService,
  ) {
    this.lostAfterMs = config.get('rtms', { infer: true }).workers.spoolHostLostAfterMs;
    this.spoolHost = config.get('storage', { infer: true }).spoolHost;
    this.lostCounter = metrics.counter({ name: 'rtms_hub_audio_segments_lost_total', help: 'Open audio segments given up because their spool host never came back' });
  }

  /** Checks every lostAfter/3 (1 s to 60 s). `queueQualifiedName`: the rtms-streams queue's. */
  start(queueQualifiedName: string): void {
    this.spoolHostsKey = workerKeys(queueQualifiedName).spoolHosts;
    const every = Math.min(60_000, Math.max(1000, Math.floor(this.lostAfterMs / 3)));
    this.timer = setInterval(() => void this.check(), every);
    this.timer.unref();
  }

  /** Returns how many segments were marked lost. */
  async check(): Promise<number> {
    if (this.checking || !this.spoolHostsKey) return 0;
    this.checking = true;
    try {
      await this.forgetSilentHosts(this.spoolHostsKey);
      const candidates = await this.segments.hostsWithIdleOpen(this.lostAfterMs, this.spoolHost);
      if (candidates.length === 0) return 0;
      const lastSeen = await this.redis.hmget(this.spoolHostsKey, ...candidates);
      const lost = lostHosts(candidates, lastSeen, Date.now(), this.lostAfterMs);
      if (lost.length === 0) return 0;
      const rows = await this.db.transaction(async (em) => {
        const marked = await this.segments.markLost(lost, this.lostAfterMs, em);
        const bySession = new Map<string, LostSegment[]>();
        for (const r of marked) bySession.set(r.session_id, [...(bySession.get(r.session_id) ?? []), r]);
        for (const [sessionId, segs] of bySession) {
          await this.events.recordEvent(sessionId, { source: EventSource.Worker, eventType: 'media.lost', payload: lostAudioPayload(segs) }, em);
        }
        return marked;
      });
      if (rows.length > 0) {
        this.lostCounter.inc(rows.length);
        this.logger.error(`Spool host(s) ${lost.join(', ')} gone for over ${Math.round(this.lostAfterMs / 1000)} s: ${rows.length} open audio segment(s) recorded as lost (media.lost)`);
      }
      return rows.length;
    } catch (err) {
      this.logger.warn(`Lost spool host check failed: ${errorMessage(err)}`);
      return 0;
    } finally {
      this.checking = false;
    }
  }

  /**
   * Deletes the heartbeats of hosts silent for a day and past the lost grace (a host
   * retired or renamed), so the hash does not grow with every host that ever ran. Nothing
   * changes for the lost check: a host with no heartbeat counts as silent, as a stale one
   * does. Compare-and-delete in one script, so a host beating just then is not forgotten.
   */
  private async forgetSilentHosts(key: string): Promise<void> {
    const cutoff = Date.now() - Math.max(this.lostAfterMs, FORGET_SILENT_HOST_MS);
    const forgotten = Number(await this.redis.eval(FORGET_OLDER_THAN, 1, key, String(cutoff)));
    if (forgotten > 0) this.logger.log(`Forgot ${forgotten} spool host(s) silent for over ${Math.round(FORGET_SILENT_HOST_MS / 3_600_000)} h`);
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
