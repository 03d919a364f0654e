import { ForbiddenException, Injectable, Logger, NestMiddleware } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app.config';
import { ADMIN_CHALLENGE, checkAdminAuthThrottled } from '../common/auth/admin-auth.middleware';
import { AdminLoginThrottle } from '../common/auth/admin-login-throttle';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a Bull Board state change is refused, or null. Bull Board authenticates with HTTP
 * Basic, which a browser replays on any request to the origin, cross-site ones
 * included, so a change must be a request no other site can make a browser send:
 * - POST only as `application/json` (Bull Board's UI sends its JSON with axios); a
 *   cross-site form or no-cors fetch can only post urlencoded, multipart or text/plain.
 * - PUT/PATCH/DELETE (the UI's other changes, some without a body) always need a CORS
 *   preflight, which the hub never grants.
 * - A browser that says the request comes from another site (`Sec-Fetch-Site`) is
 *   refused whatever it sends.
 */
export function bullBoardChangeRefusal(req: Request, readOnly: boolean): { code: string; message: string } | null {
  if (READS.has(req.method)) return null;
  if (readOnly) return { code: 'admin_read_only', message: 'Bull Board is read-only (BULL_BOARD_READ_ONLY=true)' };
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { code: 'cross_site_request_refused', message: 'Bull Board changes must come from its own pages' };
  }
  if (req.method === 'POST' && !req.is('application/json')) {
    return { code: 'cross_site_request_refused', message: 'Bull Board changes must be sent as application/json' };
  }
  return null;
}

/** Bull Board's gate: admin Basic auth, then the state-change rules above. */
@Injectable()
export class BullBoardAccessMiddleware implements NestMiddleware {
  private readonly logger = new Logger('BullBoard');
  constructor(
    private readonly config: ConfigService<AppConfig, true>,
    private readonly throttle: AdminLoginThrottle,
  ) {}

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    const authError = await checkAdminAuthThrottled(req, this.config.get('auth', { infer: true }), this.throttle);
    if (authError) {
      if (authError.getStatus() === 401) res.setHeader('WWW-Authenticate', ADMIN_CHALLENGE);
      throw authError;
    }
    const refusal = bullBoardChangeRefusal(req, this.config.get('bullBoard', { infer: true }).readOnly);
    if (!refusal) return next();
    const headers = `content-type ${JSON.stringify(req.headers['content-type'] ?? '')}, sec-fetch-site ${JSON.stringify(req.headers['sec-fetch-site'] ?? '')}`;
    this.logger.warn(`Refused ${req.method} ${req.originalUrl.split('?')[0]}: ${refusal.code} (${headers})`);
    throw new ForbiddenException(refusal);
  }
}
