import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { Request } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiKeyEntry, keyFingerprint, roleAllows } from '../../config/api-keys';
import { AppConfig } from '../../config/app.config';
import { DomainError } from '../errors/domain-error';
import { AuthErrorCode } from '../errors/error-codes';
import { callerOf, RequestWithCaller } from './api-caller';
import { AUTH_KIND, NonApiKeyAuth } from './public.decorator';
import { REQUIRED_ROLE, RoleRequirement } from './require-role.decorator';
import { safeEqual } from './safe-compare';

/** What a request's headers hold: a key, or why there is none (for the log, never the answer). */
export type ApiKeyRead = { key: string } | { key?: undefined; problem: string };

/** The API key a request carries (x-api-key, or Authorization: Bearer); also used on WebSocket upgrades. */
export function readApiKey(req: { headers: IncomingHttpHeaders }): ApiKeyRead {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return { key: header };
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) {
    const key = auth.slice(7).trim();
    if (key.length > 0) return { key };
  }
  if (header !== undefined) return { problem: 'malformed x-api-key header (empty or repeated)' };
  if (auth !== undefined) return { problem: 'malformed Authorization header (not a non-empty Bearer token)' };
  return { problem: 'no x-api-key or Authorization header' };
}

/** The configured key whose secret is `candidate`; every entry is compared, in constant time. */
export function findApiKey(candidate: string, keys: readonly ApiKeyEntry[]): ApiKeyEntry | undefined {
  let found: ApiKeyEntry | undefined;
  for (const key of keys) if (safeEqual(candidate, key.secret)) found ??= key;
  return found;
}

/** Authenticates a key and says, for the log, why it was refused. */
export function authenticateApiKey(read: ApiKeyRead, keys: readonly ApiKeyEntry[]): { key: ApiKeyEntry } | { key?: undefined; problem: string } {
  if (read.key === undefined) return { problem: read.problem };
  const key = findApiKey(read.key, keys);
  if (key) return { key };
  return { problem: keys.length === 0 ? 'no API_KEYS are configured' : `unknown key (fingerprint ${keyFingerprint(read.key)})` };
}

export class InvalidApiKeyError extends DomainError {
  constructor() {
    // The same words whatever failed: the log line says which check it was.
    super(AuthErrorCode.InvalidApiKey, 'Missing or invalid credentials');
  }
}

class ForbiddenKeyError extends DomainError {}

/** A route that forgot @RequireRole: only admin keys pass (the route-walking unit test catches it first). */
const UNDECLARED: RoleRequirement = { role: 'admin', everyOwner: true };

/**
 * Global guard: every route needs a key from API_KEYS (x-api-key or Bearer) whose role
 * is at least the route's @RequireRole, unless it declares another protection with
 * @AuthenticatedBy. With no keys configured, every app route is refused (never open by
 * default). Every 401 has the same body; the log line says which check failed.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly logger = new Logger(ApiKeyGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    const kind = this.reflector.getAllAndOverride<NonApiKeyAuth | undefined>(AUTH_KIND, targets);
    if (kind) return true;
    const req = context.switchToHttp().getRequest<Request & RequestWithCaller>();
    const result = authenticateApiKey(readApiKey(req), this.config.get('auth', { infer: true }).apiKeys);
    if (!result.key) {
      this.logger.warn(`401 on ${req.method} ${req.path}: ${result.problem}`);
      throw new InvalidApiKeyError();
    }
    const key = result.key;
    const need = this.reflector.getAllAndOverride<RoleRequirement | undefined>(REQUIRED_ROLE, targets) ?? UNDECLARED;
    if (!roleAllows(key.role, need.role)) {
      this.logger.warn(`403 on ${req.method} ${req.path}: key "${key.name}" has role ${key.role}, the route needs ${need.role}`);
      throw new ForbiddenKeyError(AuthErrorCode.InsufficientRole, `This API key's role (${key.role}) cannot do this: it needs ${need.role}`);
    }
    if (need.everyOwner && key.owner !== null) {
      this.logger.warn(`403 on ${req.method} ${req.path}: key "${key.name}" is scoped to owner "${key.owner}"`);
      throw new ForbiddenKeyError(AuthErrorCode.OwnerScopedKeyRefused, 'This route concerns every owner: an owner-scoped API key cannot use it');
    }
    req.apiCaller = callerOf(key);
    return true;
  }
}
