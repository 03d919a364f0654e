import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { Request } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import { AppConfig } from '../../config/app.config';
import { AUTH_KIND, NonApiKeyAuth } from './public.decorator';
import { matchesAny } from './safe-compare';

/** The API key a request carries (x-api-key, or Authorization: Bearer); also used on WebSocket upgrades. */
export function apiKeyFrom(req: { headers: IncomingHttpHeaders }): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  return undefined;
}

/**
 * Global guard: every route needs a key from API_KEYS (x-api-key or Bearer) unless it
 * declares another protection with @AuthenticatedBy. With no keys configured, every
 * app route is refused (never open by default).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const kind = this.reflector.getAllAndOverride<NonApiKeyAuth | undefined>(AUTH_KIND, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (kind) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const key = apiKeyFrom(req);
    const keys = this.config.get('auth', { infer: true }).apiKeys;
    if (!key || keys.length === 0 || !matchesAny(key, keys)) {
      throw new UnauthorizedException({ code: 'invalid_api_key', message: 'A valid API key is required (x-api-key header or Bearer token)' });
    }
    return true;
  }
}
