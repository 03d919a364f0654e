import { CanActivate, ExecutionContext, Injectable, Logger, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { Request, Response } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiKeyEntry, keyFingerprint, roleAllows } from '../../config/api-keys';
import { AppConfig } from '../../config/app.config';
import { DomainError } from '../errors/domain-error';
import { AuthErrorCode } from '../errors/error-codes';
import { ApiCaller, callerOf, RequestWithCaller } from './api-caller';
import { consoleCaller, consoleCookieHeader, consoleRequestRefusal, readConsoleCookie } from './console-session';
import { ConsoleSessions } from './console-sessions.service';
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
 *
 * A request without any key may instead carry the session console's cookie: it is then
 * an unscoped admin (`console:<username>`), if the console session exists and the request
 * passes the same-origin and CSRF rules (console-session.ts), else 401 / 403
 * `cross_site_request_refused`.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly logger = new Logger(ApiKeyGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly config: ConfigService<AppConfig, true>,
    @Optional() private readonly consoleSessions?: ConsoleSessions,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const kind = this.reflector.getAllAndOverride<NonApiKeyAuth | undefined>(AUTH_KIND, targets);
    if (kind) return true;
    const req = context.switchToHttp().getRequest<Request & RequestWithCaller>();
    const read = readApiKey(req);
    // A request with no key but a console cookie: the session console's client calling the
    // public API (src/common/auth/console-session.ts). A key, when sent, always decides.
    const consoleId = read.key === undefined && this.consoleSessions ? readConsoleCookie(req.headers) : null;
    if (consoleId !== null) return this.authorizeConsole(req, context.switchToHttp().getResponse<Response>(), consoleId, targets);
    const result = authenticateApiKey(read, this.config.get('auth', { infer: true }).apiKeys);
    if (!result.key) {
      this.logger.warn(`401 on ${req.method} ${req.path}: ${result.problem}`);
      throw new InvalidApiKeyError();
    }
    this.authorize(req, callerOf(result.key), targets);
    return true;
  }

  /** A console session as an unscoped admin caller, if it exists and the request passes the same-origin and CSRF rules. */
  private async authorizeConsole(req: Request & RequestWithCaller, res: Response, id: string, targets: Parameters<Reflector['getAllAndOverride']>[1]): Promise<boolean> {
    const session = await this.consoleSessions!.find(id);
    if (!session) {
      this.logger.warn(`401 on ${req.method} ${req.path}: unknown or expired console session`);
      throw new InvalidApiKeyError();
    }
    const refusal = consoleRequestRefusal({ method: req.method, headers: req.headers, origin: `${req.protocol}://${req.host}` }, session.csrf);
    const caller = consoleCaller(session);
    if (refusal) {
      this.logger.warn(`403 on ${req.method} ${req.path}: console session ${caller.fingerprint} refused: ${refusal}`);
      throw new ForbiddenKeyError(AuthErrorCode.CrossSiteRequestRefused, 'A console request must come from the console itself (same origin, with its CSRF token)');
    }
    this.authorize(req, caller, targets);
    // The cookie again with a fresh Max-Age, as the console's pages do: finding the session
    // renewed its idle expiry in Redis, and the console's client may stay on one page (its
    // API calls the only requests) longer than the cookie's Max-Age from sign-in.
    res.setHeader('Set-Cookie', consoleCookieHeader(id, { secure: req.secure, maxAgeSec: this.consoleSessions!.ttlSec }));
    return true;
  }

  private authorize(req: Request & RequestWithCaller, key: ApiCaller, targets: Parameters<Reflector['getAllAndOverride']>[1]): void {
    const need = this.reflector.getAllAndOverride<RoleRequirement | undefined>(REQUIRED_ROLE, targets) ?? UNDECLARED;
    if (!roleAllows(key.role, need.role)) {
      this.logger.warn(`403 on ${req.method} ${req.path}: key "${key.name}" has role ${key.role}, the route needs ${need.role}`);
      throw new ForbiddenKeyError(AuthErrorCode.InsufficientRole, `This API key's role (${key.role}) cannot do this: it needs ${need.role}`);
    }
    if (need.everyOwner && key.owner !== null) {
      this.logger.warn(`403 on ${req.method} ${req.path}: key "${key.name}" is scoped to owner "${key.owner}"`);
      throw new ForbiddenKeyError(AuthErrorCode.OwnerScopedKeyRefused, 'This route concerns every owner: an owner-scoped API key cannot use it');
    }
    req.apiCaller = key;
  }
}
