import { SetMetadata } from '@nestjs/common';
import type { ApiRole } from '../../config/api-keys';

export const REQUIRED_ROLE = 'auth:role';

export interface RoleRequirement {
  role: ApiRole;
  /**
   * The route shows or changes what belongs to every owner (metrics, webhook
   * endpoints): an owner-scoped key is refused (403) whatever its role.
   */
  everyOwner: boolean;
}

/**
 * The least role an API key needs for a route (on a controller, or a handler, which
 * wins). Every API-key route must say it: a unit test walks every controller route,
 * and a route without it answers only admin keys.
 */
export const RequireRole = (role: ApiRole, opts: { everyOwner?: boolean } = {}) =>
  SetMetadata(REQUIRED_ROLE, { role, everyOwner: opts.everyOwner ?? false } satisfies RoleRequirement);
