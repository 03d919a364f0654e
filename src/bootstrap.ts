import 'reflect-metadata';
import { INestApplication, Logger as NestLogger, RequestMethod, ValidationPipe } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { BULL_BOARD_ROUTE } from './admin/bull-board.module';
import { AppModule, AppModuleOptions } from './app.module';
import { AppConfig } from './config/app.config';
import { ShutdownTracer } from './common/lifecycle/shutdown-tracer';
import { bodyParsers, refuseReservedKeys, refuseUnstorableText, requireJsonBodies, requestIdMiddleware } from './common/http/body-parsers';
import { ZOOM_WEBHOOK_PATH, ZoomWebhookReceiver, zoomWebhookRoute } from './modules/webhooks';
import { adminAuthHandler } from './common/auth/admin-auth.middleware';
import { AdminLoginThrottle } from './common/auth/admin-login-throttle';
import { CONSOLE_ROUTE, consoleHttpMiddleware } from './modules/console';

export const API_PREFIX = 'api/v1';

/** Builds and configures (but does not start listening) one hub process. */
export async function createHubApp(options: AppModuleOptions): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    bufferLogs: true,
    // Throw boot errors to the caller (entrypoints print them and exit 1) instead of exiting here.
    abortOnError: false,
    // Our own parsers (below) keep the raw bytes for webhook HMACs and map parse errors.
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  const config = app.get<ConfigService<AppConfig, true>>(ConfigService);
  const http = config.get('http', { infer: true });

  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use(
    helmet({
      // Bull Board and Swagger UI ship inline scripts/styles.
      contentSecurityPolicy: false,
    }),
  );
  app.use(requestIdMiddleware());
  app.use(...bodyParsers(http.bodyLimit));
  app.use(`/${API_PREFIX}`, requireJsonBodies());
  if (options.api) {
    // Ahead of Nest's router on purpose: the hot path (zoom-webhook.route.ts).
    app.use(`/${API_PREFIX}/${ZOOM_WEBHOOK_PATH}`, zoomWebhookRoute(app.get(ZoomWebhookReceiver)));
    // The session console's own CSP and headers on every answer under /console, and its login form's parser.
    app.use(CONSOLE_ROUTE, ...consoleHttpMiddleware());
  }
  // After the Zoom webhook route, which stores such text with replacements instead (and takes Zoom's keys as they are).
  app.use(`/${API_PREFIX}`, refuseUnstorableText(), refuseReservedKeys());

  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
      { path: BULL_BOARD_ROUTE.slice(1), method: RequestMethod.ALL },
      { path: `${BULL_BOARD_ROUTE.slice(1)}/*path`, method: RequestMethod.ALL },
      { path: CONSOLE_ROUTE.slice(1), method: RequestMethod.ALL },
      { path: `${CONSOLE_ROUTE.slice(1)}/*path`, method: RequestMethod.ALL },
    ],
  });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
    }),
  );

  if (options.api && http.openApiEnabled) {
    // Every document URL Swagger serves is guarded, /docs-yaml included (it is on by default).
    app.use(['/docs', '/docs-json', '/docs-yaml'], adminAuthHandler(config.get('auth', { infer: true }), adminLoginThrottle(app)));
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('RTMS Hub API')
        .setDescription('Capture and control Zoom Real-Time Media Streams. App routes need an API key.')
        .setVersion('1')
        .addApiKey({ type: 'apiKey', name: 'x-api-key', in: 'header' }, 'api-key')
        .addSecurityRequirements('api-key')
        .build(),
    );
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
  }
  return app;
}

/**
 * Runs a process until SIGTERM/SIGINT, then closes it gracefully: workers finish or
 * hand back their jobs, connections close, and the process exits 0. A close that
 * hangs past the timeout exits 1 so an orchestrator sees it.
 */
export async function runUntilSignal(app: INestApplication, port: number, label: string): Promise<void> {
  const logger = new NestLogger('Bootstrap');
  await app.listen(port);
  logger.log(`${label} listening on port ${port}`);
  const timeoutMs = app.get<ConfigService<AppConfig, true>>(ConfigService).get('shutdownTimeoutMs', { infer: true });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received: draining ${label}`);
    const tracer = new ShutdownTracer(app);
    // Not unref'd: a close stuck on a promise nothing will settle leaves no handle behind,
    // and the process would drain its event loop and exit 0 as if it had closed cleanly.
    setTimeout(() => {
      const pending = tracer.pending();
      logger.error(`Shutdown did not finish within ${timeoutMs} ms; exiting${pending.length ? ` (still waiting on ${pending.join(', ')})` : ''}`);
      process.exit(1);
    }, timeoutMs);
    app.close().then(
      () => {
        logger.log(`${label} stopped cleanly`);
        process.exit(0);
      },
      (err: unknown) => {
        logger.error(`Error while shutting down: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** The admin login limits, where a module of this process provides them (the console, Bull Board); else none. */
function adminLoginThrottle(app: NestExpressApplication): AdminLoginThrottle | null {
  try {
    return app.get(AdminLoginThrottle, { strict: false });
  } catch {
    return null;
  }
}
