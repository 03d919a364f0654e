import { Module } from '@nestjs/common';
import { OAuthCoreModule } from './oauth-core.module';
import { OAuthRefreshSweeper } from './oauth-refresh.sweeper';

/** Worker side of the oauth queue: the processor's dependencies plus the refresh sweeper. */
@Module({ imports: [OAuthCoreModule], providers: [OAuthRefreshSweeper], exports: [OAuthCoreModule] })
export class OAuthWorkerModule {}
