import { Module } from '@nestjs/common';
import { ErasuresController } from './erasure/erasures.controller';
import { RetentionModule } from './retention.module';

/** The erasures REST API (API processes only). */
@Module({ imports: [RetentionModule], controllers: [ErasuresController] })
export class ErasuresApiModule {}
