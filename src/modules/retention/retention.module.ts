import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StreamSignalPublisher } from '../../common/stream-signals/stream-signal-publisher';
import { ErasureEntity } from './erasure/entities/erasure.entity';
import { ErasuresRepository } from './erasure/erasures.repository';
import { AppEventsModule } from '../app-events';
import { AppWebhooksCoreModule } from '../app-webhooks';
import { DeletionLogModule } from '../deletion-log';
import { MediaArtifactsModule } from '../media-ingest';
import { SessionCleanupHooks, SessionsModule } from '../sessions';
import { ZoomRoomsCoreModule } from '../zoom-rooms';
import { SessionOutboxPurge } from './outbox/session-outbox-purge';
import { AgePruneService } from './sweep/age-prune.service';
import { RetentionPurgeEntity } from './entities/retention-purge.entity';
import { ErasureService } from './erasure/erasure.service';
import { ErasureSweeper } from './erasure/erasure.sweeper';
import { RetentionPurgesRepository } from './repositories/retention-purges.repository';
import { RetentionMetrics } from './sweep/retention-metrics';
import { RetentionScheduler } from './sweep/retention-scheduler';
import { RetentionStatsStore } from './sweep/retention-stats';
import { RetentionSweepService } from './sweep/retention-sweep.service';

/**
 * The data's life (docs/retention.md): the retention sweep, legal hold, erasure by
 * participant. It deletes through the modules that own the data (media-ingest for
 * stored media and media rows, sessions for events and participants) and records every
 * deletion in the deletion log. What the API and the workers share.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ErasureEntity, RetentionPurgeEntity]), SessionsModule, MediaArtifactsModule, DeletionLogModule, AppEventsModule, AppWebhooksCoreModule, ZoomRoomsCoreModule],
  providers: [RetentionSweepService, ErasureService, ErasuresRepository, StreamSignalPublisher, RetentionPurgesRepository, RetentionStatsStore, SessionOutboxPurge, AgePruneService],
  exports: [RetentionSweepService, ErasureService, ErasuresRepository, RetentionStatsStore],
})
export class RetentionCoreModule implements OnModuleInit {
  constructor(
    private readonly hooks: SessionCleanupHooks,
    private readonly outbox: SessionOutboxPurge,
  ) {}

  onModuleInit(): void {
    // A deleted session takes its app events and their webhook messages along (no foreign
    // key reaches them); the deletion log counts them. API processes, where sessions are
    // deleted, load this module through the erasures API.
    this.hooks.registerRowDeleter((sessionId, em) => this.outbox.deleteOfSession(sessionId, 'all', null, em));
  }
}

/**
 * The worker side, imported only by processes that consume `maintenance`: they schedule
 * the sweep, serve its metrics and re-queue erasures whose job is gone (ErasureSweeper).
 * (An API process must not: it would schedule sweeps nobody there runs, and wait on
 * Redis at boot.)
 */
@Module({
  imports: [RetentionCoreModule, SessionsModule],
  providers: [RetentionMetrics, RetentionScheduler, ErasureSweeper],
  exports: [RetentionCoreModule],
})
export class RetentionModule {}
