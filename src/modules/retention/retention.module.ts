import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StreamSignalPublisher } from '../../common/stream-signals/stream-signal-publisher';
import { ErasureEntity } from './erasure/entities/erasure.entity';
import { ErasuresRepository } from './erasure/erasures.repository';
import { DeletionLogModule } from '../deletion-log';
import { MediaArtifactsModule } from '../media-ingest';
import { SessionsModule } from '../sessions';
import { ErasureService } from './erasure/erasure.service';
import { RetentionSweepService } from './sweep/retention-sweep.service';

/**
 * The data's life (docs/retention.md): the retention sweep, legal hold, erasure by
 * participant. It deletes through the modules that own the data (media-ingest for
 * stored media and media rows, sessions for events and participants) and records every
 * deletion in the deletion log.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ErasureEntity]), SessionsModule, MediaArtifactsModule, DeletionLogModule],
  providers: [RetentionSweepService, ErasureService, ErasuresRepository, StreamSignalPublisher],
  exports: [RetentionSweepService, ErasureService],
})
export class RetentionModule {}
