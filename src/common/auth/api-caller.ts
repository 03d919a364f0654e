import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { ApiKeyEntry, ApiRole } from '../../config/api-keys';

/** The API key a request was authenticated with, as handlers see it (never the secret). */
export interface ApiCaller {
  name: string;
  role: ApiRole;
  /** Owner tag: only rows of this owner are visible and created rows carry it. null = every row. */
  owner: string | null;
  fingerprint: string;
}

/** The request as the guard leaves it. */
export interface RequestWithCaller {
  apiCaller?: ApiCaller;
}

export function callerOf(key: ApiKeyEntry): ApiCaller {
  return { name: key.name, role: key.role, owner: key.owner, fingerprint: key.fingerprint };
}

/**
 * The authenticated API key (ApiKeyGuard sets it). Only on API-key routes: on a route
 * protected otherwise there is none, and using it there is a programming error.
 */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): ApiCaller => {
  const caller = ctx.switchToHttp().getRequest<RequestWithCaller>().apiCaller;
  if (!caller) throw new Error('@Caller() used on a route the API key guard does not authenticate');
  return caller;
});
