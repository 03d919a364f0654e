import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppEventsModule } from '../app-events';
import { SessionsModule } from '../sessions';
import { OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { OAuthConnectionsService } from './oauth-connections.service';
import { OAuthDeauthorizer } from './oauth-deauthorizer.service';
import { OAuthConnectionsRepository } from './repositories/oauth-connections.repository';
import { OAuthFlowService } from './oauth-flow.service';
import { OAuthStateStore } from './oauth-state.store';
import { OAuthUserGrantStore } from './oauth-user-grant.store';
import { RefreshedPairStash } from './refreshed-pair.stash';
import { UserGrantStore } from '../../zoom/auth/user-grant-store';
import { ZoomTokenProvider } from '../../zoom/auth/zoom-token.provider';
import { RefreshLease } from '../../zoom/auth/refresh-lease';
import { ZoomModule } from '../../zoom/zoom.module';

/**
 * The token vault for the rest of the hub: connections and the user token provider
 * (a Zoom-layer class, wired here to the vault's storage). No controllers, so workers
 * (rtms-control, the oauth processor) can import it without serving routes.
 */
@Module({
  // Sessions: a failed deauthorization is recorded on the stored Zoom event that asked for it.
  imports: [TypeOrmModule.forFeature([OAuthConnectionEntity]), ZoomModule, AppEventsModule, SessionsModule],
  providers: [
    OAuthStateStore,
    OAuthConnectionsRepository,
    OAuthConnectionsService,
    OAuthDeauthorizer,
    OAuthFlowService,
    RefreshedPairStash,
    { provide: UserGrantStore, useClass: OAuthUserGrantStore },
    ZoomTokenProvider,
    RefreshLease,
  ],
  exports: [OAuthConnectionsService, OAuthDeauthorizer, OAuthFlowService, ZoomTokenProvider],
})
export class OAuthCoreModule {}
