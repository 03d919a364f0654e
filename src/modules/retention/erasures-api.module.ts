import { Module } from '@nestjs/common';
import { ErasuresController } from './erasure/erasures.controller';
import { RetentionCoreModule } from './retention.module';

/** The erasures REST API (API processes only). */
@Module({ imports: [RetentionCoreModule], controllers: [ErasuresController] })
export class ErasuresApiModule {}
