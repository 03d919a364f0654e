import { SetMetadata } from '@nestjs/common';

export const AUTH_KIND = 'auth:kind';

/**
 * How a route is protected when it does not use the API key: `zoom-signature` (the
 * controller verifies Zoom's HMAC), `oauth-state` (single-use state), `probe` (health).
 * Every route is API-key protected unless it says otherwise here.
 */
export type NonApiKeyAuth = 'zoom-signature' | 'oauth-state' | 'probe' | 'admin' | 'live-ticket' | 'console';

export const AuthenticatedBy = (kind: NonApiKeyAuth) => SetMetadata(AUTH_KIND, kind);
