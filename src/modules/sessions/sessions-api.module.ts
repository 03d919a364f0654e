import { Module } from '@nestjs/common';
import { SessionsController } from './sessions.controller';
import { SessionsModule } from './sessions.module';

/** The sessions REST API (API processes only). */
@Module({ imports: [SessionsModule], controllers: [SessionsController] })
export class SessionsApiModule {}
