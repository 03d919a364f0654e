import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StreamSignalPublisher } from '../../common/stream-signals/stream-signal-publisher';
import { ErasureEntity } from './erasure/entities/erasure.entity';
import { ErasuresRepository } from './erasure/erasures.repository';
import { DeletionLogModule } from '../deletion-log';
import { MediaArtifactsModule } from '../media-ingest';
import { SessionsModule } from '../sessions';
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
  imports: [TypeOrmModule.forFeature([ErasureEntity, RetentionPurgeEntity]), SessionsModule, MediaArtifactsModule, DeletionLogModule],
  providers: [RetentionSweepService, ErasureService, ErasuresRepository, StreamSignalPublisher, RetentionPurgesRepository, RetentionStatsStore],
  exports: [RetentionSweepService, ErasureService, ErasuresRepository, RetentionStatsStore],
})
export class RetentionCoreModule {}

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
