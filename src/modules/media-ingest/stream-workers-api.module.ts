import { Module } from '@nestjs/common';
import { StreamWorkersAdmin, StreamWorkersController } from './workers/stream-workers.controller';

/** The stream workers' admin API: list, drain (API processes only). */
@Module({ controllers: [StreamWorkersController], providers: [StreamWorkersAdmin] })
export class StreamWorkersApiModule {}
