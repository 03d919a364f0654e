import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Module, RequestMethod } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../../config/app.config';

/** Paths pino blanks in every log line: credentials, tokens and secrets. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'req.headers["x-zm-signature"]',
  'res.headers["set-cookie"]',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.password',
  '*.passcode',
  '*.token',
  '*.secret',
];

/** The id set by requestIdMiddleware (which runs first), or a new one. */
export function requestIdFor(req: IncomingMessage & { id?: unknown }): string {
  return typeof req.id === 'string' ? req.id : randomUUID();
}

/** Structured JSON logs (pino) with a request id on every request's lines. */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const log = config.get('log', { infer: true });
        return {
          // Every route, in the path syntax of Express 5 (a bare '*' is legacy there).
          forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
          pinoHttp: {
            level: log.level,
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            genReqId: requestIdFor,
            // Query strings can carry OAuth codes and state; log the path only.
            serializers: {
              req: (req: { id: string; method: string; url: string }) => ({
                id: req.id,
                method: req.method,
                url: req.url.split('?')[0],
              }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
            customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
            autoLogging: { ignore: (req: IncomingMessage) => (req.url ?? '').startsWith('/health') },
          },
        };
      },
    }),
  ],
})
export class LoggingModule {}
