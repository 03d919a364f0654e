import { Logger } from '@nestjs/common';
import { NextFunction, RequestHandler, Response } from 'express';
import { toErrorBody } from '../../common/errors/all-exceptions.filter';
import { RawBodyRequest } from '../../common/http/body-parsers';
import { RateLimitedLog } from '../../common/logging/rate-limited-log';
import { ZoomWebhookReceiver } from './zoom-webhook.receiver';

export const ZOOM_WEBHOOK_PATH = 'webhooks/zoom';

/**
 * POST {prefix}/webhooks/zoom as a plain Express handler, mounted ahead of Nest's router.
 *
 * Why not a Nest controller: this is the hub's hottest route and Zoom retries any answer
 * slower than 3 s. Nest's per-request pipeline (guards, pipes, interceptors, pino-http's
 * per-request logger) cost about 40 % of the request's CPU here; bypassing it raised one
 * API process from ~1,400 to ~1,800–2,200 acknowledged webhooks/s (docs/performance.md).
 * It keeps the hub's conventions: helmet, request ids and body limits run before it
 * (registered earlier), errors use the same JSON shape, and refusals are logged — at most
 * one line per status and code every 10 s, with a count of the others, so a flood of bad
 * requests cannot flood the log (each is still counted in a metric). Accepted events are
 * not access-logged one by one: each is a row in session_events and a metric.
 */
export function zoomWebhookRoute(receiver: ZoomWebhookReceiver): RequestHandler {
  const log = new RateLimitedLog(new Logger('ZoomWebhook'));
  return (req: RawBodyRequest, res: Response, next: NextFunction) => {
    // Mounted with app.use, so sub-paths reach here too: only the exact path is ours.
    if (req.method !== 'POST' || req.path !== '/') return next();
    receiver.receive(req).then(
      (answer) => res.status(200).json(answer),
      (err: unknown) => {
        const body = toErrorBody(err, typeof req.id === 'string' ? req.id : undefined);
        const line = `POST ${req.originalUrl.split('?')[0]} -> ${body.statusCode} ${body.error}: ${body.message} [${body.requestId}]`;
        const key = `${body.statusCode} ${body.error}`;
        if (body.statusCode >= 500) log.error(key, line, err instanceof Error ? err.stack : undefined);
        else log.warn(key, line);
        if (!res.headersSent) res.status(body.statusCode).json(body);
      },
    );
  };
}
