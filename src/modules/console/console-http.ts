import { bodyParserError } from '../../common/http/body-parsers';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * The console's own Content Security Policy: scripts and styles only from the hub (no
 * inline ones), data only from its API (connect-src 'self' covers the live WebSocket on
 * the same host), images and audio from the artifact routes, no framing, forms only to
 * the hub.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "media-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers on every /console response, whatever answers it (pages, assets, errors). */
export function consoleSecurityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // Not no-referrer: with it, browsers send `Origin: null` on the console's own POSTs
  // (forms and fetch), and the same-origin check could not tell them from an opaque origin.
  // same-origin sends nothing to other sites either.
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
  next();
}

/**
 * The login and logout forms are urlencoded (the API itself parses JSON only). A small
 * limit: the forms have three short fields. A body it cannot read gets the API's codes (bodyParserError).
 */
export function consoleFormParser(): RequestHandler {
  const parse = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (!err) return next();
      next(bodyParserError(err, req));
    });
  };
}

/** Everything mounted ahead of the console's routes (bootstrap.ts): headers first, then the form parser. */
export function consoleHttpMiddleware(): RequestHandler[] {
  return [consoleSecurityHeaders, consoleFormParser()];
}
