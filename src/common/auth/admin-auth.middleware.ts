import { HttpException, UnauthorizedException } from '@nestjs/common';
import { Request, RequestHandler } from 'express';
import { AppConfig } from '../../config/app.config';
import type { AdminLoginThrottle } from './admin-login-throttle';
import { safeEqual } from './safe-compare';

type AdminCredentials = Pick<AppConfig['auth'], 'adminUsername' | 'adminPassword'>;

/**
 * Checks HTTP Basic admin credentials. Returns null when they match, or the error to
 * answer with. Without ADMIN_USERNAME and ADMIN_PASSWORD configured, nothing matches.
 */
export function checkAdminAuth(req: Request, creds: AdminCredentials): UnauthorizedException | null {
  const header = req.headers.authorization ?? '';
  let user = '';
  let pass = '';
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      user = decoded.slice(0, colon);
      pass = decoded.slice(colon + 1);
    }
  }
  const configured = Boolean(creds.adminUsername && creds.adminPassword);
  // Both comparisons always run, so timing does not tell which part was wrong.
  const userOk = safeEqual(user, creds.adminUsername ?? '');
  const passOk = safeEqual(pass, creds.adminPassword ?? '');
  if (configured && userOk && passOk) return null;
  return new UnauthorizedException({
    code: configured ? 'invalid_admin_credentials' : 'admin_not_configured',
    message: configured ? 'Admin credentials are required' : 'Admin pages are disabled until ADMIN_USERNAME and ADMIN_PASSWORD are set',
  });
}

export const ADMIN_CHALLENGE = 'Basic realm="rtms-hub admin", charset="UTF-8"';

/**
 * Checks a request's admin Basic credentials with the shared failure limits: null when
 * they match, else the error to answer with (429 while the limits hold, whatever the
 * password). Only a request that presents credentials counts: a browser's first, bare
 * request just gets the challenge. The limits are checked and a failure counted in one
 * atomic step (AdminLoginThrottle.attempt), so concurrent guesses cannot all pass the
 * check before any is counted.
 */
export async function checkAdminAuthThrottled(req: Request, creds: AdminCredentials, throttle: AdminLoginThrottle | null): Promise<HttpException | null> {
  const error = checkAdminAuth(req, creds);
  if (req.headers.authorization === undefined || !throttle) return error;
  const verdict = await throttle.attempt(req.ip ?? 'unknown', error === null);
  if (verdict.refusal) return new HttpException({ code: 'too_many_requests', message: `Too many failed admin logins ${verdict.refusal === 'address' ? 'from this address' : 'in all'}; try again later` }, 429);
  return error;
}

/** Express middleware for pages mounted outside Nest's router (Swagger UI); Bull Board has its own (src/admin). */
export function adminAuthHandler(creds: AdminCredentials, throttle: AdminLoginThrottle | null): RequestHandler {
  return (req, res, next) => {
    checkAdminAuthThrottled(req, creds, throttle).then((error) => {
      if (!error) return next();
      if (error.getStatus() === 401) res.setHeader('WWW-Authenticate', ADMIN_CHALLENGE);
      next(error);
    }, next);
  };
}
