import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { errorMessage } from '../../../common/errors/error-message';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { HeldLease, RedisLock } from '../../../common/redis/redis-lock';
import { AppConfig } from '../../../config/app.config';

/** How long a lease lives without renewal; renewed every third of it while the composition runs. */
export const COMPOSE_LEASE_MS = 60_000;

/** A session's composition lease, held by one run: the run must stop once it is `lost`. */
export type ComposeLease = HeldLease;

/**
 * One composition of a session at a time, hub-wide (docs/recordings.md, "One at a
 * time"). Every run stores under the same keys (recording.mp4, each participant's
 * audio.ogg) and upserts the same rows: two runs at once (the automatic one and a
 * re-compose, or two re-composes) could each upload, and the last upload and the last row
 * could be of different runs, the row then describing bytes that are not the object's.
 * Serialising whole runs also makes the later run plan from what the earlier one left.
 *
 * A Redis lease (SET NX PX, renewed while the run lasts): Postgres advisory locks would
 * need a session-level lock held for minutes on one connection, which PgBouncer's
 * transaction pooling does not keep. A run that finds the lease taken is put back as
 * delayed without using an attempt (media-compose.processor.ts). A run whose renewal
 * fails (its lease expired: the process stalled past COMPOSE_LEASE_MS, or Redis lost the
 * key) is aborted before it stores anything more and put back the same way.
 */
@Injectable()
export class ComposeLeases {
  private readonly logger = new Logger(ComposeLeases.name);
  private readonly lock: RedisLock;
  private readonly prefix: string;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    this.lock = new RedisLock(redis);
    this.prefix = `${config.get('queues', { infer: true }).prefix}:recording-compose:lease:`;
  }

  /** The session's lease, or null while another run holds it. */
  acquire(sessionId: string, ttlMs = COMPOSE_LEASE_MS): Promise<ComposeLease | null> {
    return this.lock.hold(this.prefix + sessionId, ttlMs, {
      lost: (why) => {
        this.logger.warn(`Composition lease of session ${sessionId} lost (${why}): stopping this run`);
        return Object.assign(new Error(`composition lease lost: ${why}`), { name: 'AbortError' });
      },
      renewFailed: (err) => this.logger.debug(`Composition lease of session ${sessionId} not renewed: ${errorMessage(err)}`),
      releaseFailed: (err) => this.logger.debug(`Could not release the composition lease of ${sessionId}: ${errorMessage(err)}`),
    });
  }
}
