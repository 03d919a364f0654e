/*
 * The oauth module's door: the token vault (connections) and its Nest modules. Tokens
 * for Zoom calls come from the Zoom layer's ZoomTokenProvider, which OAuthCoreModule
 * provides and exports.
 */
export { OAuthCoreModule } from './oauth-core.module';
export { OAuthModule } from './oauth.module';
export { OAuthWorkerModule } from './oauth-worker.module';
export { OAuthProcessor } from './oauth.processor';
export { OAuthConnectionsService } from './oauth-connections.service';
export { ConnectionStatus } from './entities/oauth-connection.entity';
export { resealConnectionTokens } from './connection-tokens.reseal';
