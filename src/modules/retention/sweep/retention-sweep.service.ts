import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { DataSource, EntityManager } from 'typeorm';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { RedisLock } from '../../../common/redis/redis-lock';
import { RENEW_IF_HOLDER } from '../../../common/redis/lease-scripts';
import { isRedisConnectionError, redisOutage } from '../../../common/logging/redis-outage-log';
import { errorMessage } from '../../../common/errors/error-message';
import { AppConfig } from '../../../config/app.config';
import { DeletionLogService, DeletionReason, DeletionActor } from '../../deletion-log';
import { MediaRetentionService } from '../../media-ingest';
import { RETENTION_CATEGORIES, RetentionCategory, SessionEntity, SessionRetentionService } from '../../sessions';
import type { SessionRetentionPolicy } from '../../sessions';
import { RetentionPurgesRepository, PurgeTotals } from '../repositories/retention-purges.repository';
import { SessionOutboxPurge } from '../outbox/session-outbox-purge';
import { AgePruneService } from './age-prune.service';
import { effectiveDays, expiryOf, isExpired, RetentionDefaults } from './retention-policy';
import { RetentionRunStats, RetentionStatsStore } from './retention-stats';

/** Sessions fetched per look at a category's work list. */
const SESSIONS_PER_PAGE = 50;
/** The sweep's lease: renewed every third of it while the sweep runs. */
const LEASE_MS = 60_000;
/**
 * What is stored under retention (a count and a sum over every artifact of unheld
 * sessions) is measured at most this often, hub-wide; sweeps in between report the last
 * measurement (`storedAt` says when it was taken).
 */
export const STORED_REFRESH_MS = 15 * 60_000;

export interface SweepSummary extends RetentionRunStats {
  /** Another process holds the sweep's lease: this run did nothing. */
  skipped?: 'another_sweep_running';
}

type PurgeOutcome = { purged: true; totals: PurgeTotals; sessionDeleted: boolean } | { purged: false };

/**
 * One pass of the retention sweep (docs/retention.md): for media, then transcripts, then
 * events, the unheld sessions whose retention has run out, longest-expired first; each
 * purged in batches (objects, then rows, in one transaction per batch with the session
 * row locked), then one deletion_log entry per session and category. Once all three are
 * purged the session row goes too.
 *
 * One sweep runs at a time hub-wide (a Redis lease, renewed while it runs). The lease is
 * an economy, not the guarantee: every batch and every final entry re-checks the locked
 * session row (hold, purge marker, expiry), so two sweeps that ever overlap still delete
 * each row once and log each session's category once.
 */
@Injectable()
export class RetentionSweepService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionSweepService.name);
  /** The process is shutting down: a running sweep stops after its current batch (the next one resumes). */
  private stopping = false;
  private readonly lock: RedisLock;
  private readonly leaseKey: string;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly sessions: SessionRetentionService,
    private readonly media: MediaRetentionService,
    private readonly purges: RetentionPurgesRepository,
    private readonly deletionLog: DeletionLogService,
    private readonly stats: RetentionStatsStore,
    private readonly config: ConfigService<AppConfig, true>,
    private readonly outbox: SessionOutboxPurge,
    private readonly aged: AgePruneService,
  ) {
    this.lock = new RedisLock(redis);
    this.leaseKey = `${config.get('queues', { infer: true }).prefix}:retention-sweep:lease`;
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
  }

  private defaults(): RetentionDefaults & { batchSize: number } {
    return this.config.get('retention', { infer: true });
  }

  async sweep(): Promise<SweepSummary> {
    const token = await this.lock.acquire(this.leaseKey, LEASE_MS);
    if (!token) {
      this.logger.debug('Retention sweep skipped: another process is running one');
      return { ...emptyStats(), skipped: 'another_sweep_running' };
    }
    const lease = { lost: false };
    const renew = setInterval(() => {
      this.redis
        .eval(RENEW_IF_HOLDER, 1, this.leaseKey, token, String(LEASE_MS))
        .then((ok) => {
          if (ok !== 1) lease.lost = true;
        })
        .catch(() => undefined);
    }, LEASE_MS / 3);
    const started = Date.now();
    const run = emptyStats();
    try {
      await this.runSweep(run, lease);
      run.success = true;
      return run;
    } catch (err) {
      this.reportFailure(`Retention sweep failed after ${Date.now() - started} ms`, err, 'error');
      throw err;
    } finally {
      clearInterval(renew);
      Object.assign(run, await this.storedTotals());
      run.durationMs = Date.now() - started;
      run.finishedAt = new Date().toISOString();
      await this.stats.save(run).catch((err: unknown) => this.reportFailure(`Could not record the sweep's metrics`, err, 'warn'));
      await this.lock.release(this.leaseKey, token).catch(() => undefined);
      if (run.sessions > 0) this.logger.log(`Retention sweep: ${run.sessions} purge(s), ${run.objects} object(s), ${run.bytes} bytes, ${run.rows} row(s) in ${run.durationMs} ms`);
    }
  }

  /** What is stored under retention: measured again once the last measurement (any process's) is STORED_REFRESH_MS old. */
  private async storedTotals(): Promise<Pick<RetentionRunStats, 'stored' | 'storedAt'>> {
    const last = await this.stats.last().catch(() => null);
    if (last?.stored && last.storedAt && Date.now() - Date.parse(last.storedAt) < STORED_REFRESH_MS) return { stored: last.stored, storedAt: last.storedAt };
    const storedAt = new Date().toISOString();
    const stored = await this.media.storedByCategory().catch(() => undefined);
    return stored ? { stored, storedAt } : {};
  }

  /** A Redis outage is reported once per outage by the outage log; anything else is logged here. */
  private reportFailure(what: string, err: unknown, level: 'warn' | 'error'): void {
    const message = errorMessage(err);
    if (isRedisConnectionError(message)) redisOutage.failed(undefined, message);
    else this.logger[level](`${what}: ${message}`);
  }

  private async runSweep(run: RetentionRunStats, lease: { lost: boolean }): Promise<void> {
    const defaults = this.defaults();
    for (const category of RETENTION_CATEGORIES) {
      const configDays = effectiveDays(null, defaults, category);
      // A session that could not be purged this pass (held or restarted meanwhile) is not tried again in it;
      // the page grows by those only, as purged sessions leave the work list.
      const skipped = new Set<string>();
      for (;;) {
        if (lease.lost) throw new Error('retention sweep lost its lease (another sweep may run now); stopping after the last batch');
        if (this.stopping) {
          run.interrupted = true;
          return;
        }
        const due = (await this.sessions.findDue(category, configDays, SESSIONS_PER_PAGE + skipped.size)).filter((d) => !skipped.has(d.id));
        if (due.length === 0) break;
        for (const { id } of due) {
          if (this.stopping) break;
          const outcome = await this.purgeSession(id, category, lease);
          if (!outcome.purged) {
            skipped.add(id);
            continue;
          }
          run.sessions++;
          run.objects += outcome.totals.objects;
          run.bytes += outcome.totals.bytes;
          run.rows += Object.values(outcome.totals.rows).reduce((a, b) => a + b, 0);
          if (outcome.sessionDeleted) run.sessionsDeleted++;
          run.byCategory[category] = (run.byCategory[category] ?? 0) + 1;
        }
      }
    }
    // Then what goes by age rather than with a session (unlinked Zoom events, the outbox, finished room dispatches).
    const aged = await this.aged.prune(() => this.stopping || lease.lost);
    run.aged = aged;
    run.rows += Object.values(aged).reduce((a, b) => a + b, 0);
    if (lease.lost) throw new Error('retention sweep lost its lease (another sweep may run now); stopping after the last batch');
    if (this.stopping) run.interrupted = true;
  }

  /** Is the locked session still to be purged for `category`? */
  private eligible(s: SessionEntity, category: RetentionCategory, now: Date): boolean {
    if (s.legalHoldAt !== null || purgedAt(s, category) !== null) return false;
    return isExpired(s.retentionFrom, effectiveDays(retentionPolicyOf(s), this.defaults(), category), now);
  }

  /** Purges one session's category to the end (resuming a purge a killed sweep left), then logs it once. */
  async purgeSession(sessionId: string, category: RetentionCategory, lease: { lost: boolean } = { lost: false }): Promise<PurgeOutcome> {
    for (;;) {
      if (!(await this.deleteAllBatches(sessionId, category, lease))) return { purged: false };
      const outcome = await this.finish(sessionId, category);
      if (outcome !== 'again') return outcome;
    }
  }

  /** Batches until none is left; false when the session is no longer to be purged (held, restarted, gone). */
  private async deleteAllBatches(sessionId: string, category: RetentionCategory, lease: { lost: boolean }): Promise<boolean> {
    for (;;) {
      const more = await this.db.transaction(async (em) => {
        const s = await this.sessions.lockForPurge(sessionId, em);
        if (!s || !this.eligible(s, category, new Date())) return null;
        const batch = await this.deleteBatch(sessionId, category, em);
        if (batch.more) await this.purges.add(sessionId, category, batch, em);
        return batch.more;
      });
      if (more === null) return false;
      if (!more) return true;
      if (this.stopping) return false;
      if (lease.lost) throw new Error('retention sweep lost its lease; stopping between batches');
    }
  }

  /**
   * The purge's last step, in one transaction with the session row locked: whether the
   * session is still to be purged (hold, purge marker, expiry) is checked first, before
   * anything else is deleted; a row that arrived late is purged ('again': its batches
   * run again); then the objects left without a row, the counts, the purge marker, the
   * session row when all three are purged, and the one deletion_log entry.
   */
  private async finish(sessionId: string, category: RetentionCategory): Promise<PurgeOutcome | 'again'> {
    return this.db.transaction(async (em): Promise<PurgeOutcome | 'again'> => {
      const s = await this.sessions.lockForPurge(sessionId, em);
      if (!s || !this.eligible(s, category, new Date())) return { purged: false };
      // A row that arrived after the last batch (a late save) is purged, and counted, before the entry is written.
      const late = await this.deleteBatch(sessionId, category, em);
      if (late.more) {
        await this.purges.add(sessionId, category, late, em);
        return 'again';
      }
      const sessionDeleted = RETENTION_CATEGORIES.every((c) => c === category || purgedAt(s, c) !== null);
      // Every row of the category is gone: objects without a row (a save killed between its
      // write and its insert) go too — the whole session folder when the row is about to go.
      // Under the lock, after the check: a hold or a restart waits for this transaction, and
      // one that came first stops the purge before anything is deleted.
      const strays = sessionDeleted ? await this.media.deleteStrays(sessionId, 'session') : category === 'events' ? { objects: 0, bytes: 0 } : await this.media.deleteStrays(sessionId, category);
      const purged = await this.purges.take(sessionId, category, em);
      const totals = { ...purged, objects: purged.objects + strays.objects, bytes: purged.bytes + strays.bytes };
      await this.sessions.markPurged(sessionId, category, em);
      if (sessionDeleted) {
        await this.sessions.deleteSession(sessionId, em);
        totals.rows.sessions = 1;
      }
      // Nothing was there (media of a session that never streamed): marked, but no entry and no media.deleted to apps.
      // Stray objects deleted are something: the trail counts them even when no row went with them.
      const nothing = !sessionDeleted && totals.objects === 0 && Object.values(totals.rows).every((n) => n === 0);
      if (nothing) return { purged: true, totals, sessionDeleted };
      const policy = retentionPolicyOf(s);
      const days = effectiveDays(policy, this.defaults(), category);
      await this.deletionLog.record(
        {
          reason: DeletionReason.Retention,
          actor: DeletionActor.System,
          sessionId,
          owner: s.owner,
          categories: sessionDeleted ? [category, 'session'] : [category],
          objectsDeleted: totals.objects,
          bytesDeleted: totals.bytes,
          rowsDeleted: totals.rows,
          details: {
            policy_days: days,
            policy_source: policy?.[`${category}_days`] != null ? 'session' : 'config',
            retention_from: s.retentionFrom?.toISOString() ?? null,
            cut_off: expiryOf(s.retentionFrom, days)?.toISOString() ?? null,
            stray_objects_deleted: strays.objects,
          },
        },
        em,
      );
      return { purged: true, totals, sessionDeleted };
    });
  }

  /**
   * One batch of the category. The session's app events (and their webhook messages) go
   * last: its transcript.segment events with the transcript, the rest with the events —
   * but media.deleted, which announces the purges (docs/retention.md).
   */
  private async deleteBatch(sessionId: string, category: RetentionCategory, em: EntityManager): Promise<PurgeTotals & { more: boolean }> {
    const limit = this.defaults().batchSize;
    if (category === 'media') return this.media.purgeBatch(sessionId, category, limit, em);
    if (category === 'transcript') {
      const stored = await this.media.purgeBatch(sessionId, category, limit, em);
      if (stored.more) return stored;
    } else {
      const events = await this.sessions.deleteEventsBatch(sessionId, limit, em);
      if (events > 0) return { objects: 0, bytes: 0, rows: { session_events: events }, more: true };
      const participants = await this.sessions.deleteParticipantsBatch(sessionId, limit, em);
      if (participants > 0) return { objects: 0, bytes: 0, rows: { participants }, more: true };
    }
    const outbox = await this.outbox.deleteOfSession(sessionId, category, limit, em);
    return { objects: 0, bytes: 0, rows: outbox, more: (outbox.app_events ?? 0) > 0 };
  }
}

function purgedAt(s: SessionEntity, c: RetentionCategory): Date | null {
  return c === 'media' ? s.mediaPurgedAt : c === 'transcript' ? s.transcriptPurgedAt : s.eventsPurgedAt;
}

function retentionPolicyOf(s: SessionEntity): Partial<SessionRetentionPolicy> | null {
  const r = (s.capturePolicy as { retention?: Partial<SessionRetentionPolicy> } | null)?.retention;
  return r && typeof r === 'object' ? r : null;
}

function emptyStats(): RetentionRunStats {
  return { success: false, sessions: 0, sessionsDeleted: 0, objects: 0, bytes: 0, rows: 0, durationMs: 0, finishedAt: null, byCategory: {} };
}
