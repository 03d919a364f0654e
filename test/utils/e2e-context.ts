import request from 'supertest';
import { DataSource } from 'typeorm';
import type { AppModuleOptions } from '../../src/app.module';
import { ALL_QUEUES, QueueName } from '../../src/jobs/queue-names';
import { type SimulatorOptions, ZoomSimulator } from '../../src/simulator';
import { EntrypointProcess, spawnEntrypoint } from './processes';
import { obliterateQueues, startTestApp, TestApp } from './test-app';
import { QueuesIdleOptions, waitForQueuesIdle } from './wait-for';

/**
 * Suites run keep-alives every 150–500 ms to be quick, where Zoom's are seconds apart; at
 * Zoom's 3 misses a hub stalled ~0.5 s (a GC pause, CI running suites side by side on two
 * cores) would be interrupted in the middle of a test that expects an unbroken stream.
 * The tolerance stays far below Zoom's own in milliseconds. The miss rule itself is tested
 * in src/simulator/rtms.spec.ts; a suite can still set its own.
 */
const E2E_KEEPALIVE_MISS_LIMIT = 10;

/** The Zoom app of the test env (test/setup-env.ts); the simulator is started with it unless told otherwise. */
export const TEST_ZOOM_APP = {
  clientId: process.env.ZOOM_CLIENT_ID ?? 'test_client_id',
  clientSecret: process.env.ZOOM_CLIENT_SECRET ?? 'test_client_secret',
  sdkKey: process.env.ZOOM_SDK_KEY ?? 'test_sdk_key',
  sdkSecret: process.env.ZOOM_SDK_SECRET ?? 'test_sdk_secret',
  webhookSecretToken: process.env.ZOOM_WEBHOOK_SECRET_TOKEN ?? 'test_webhook_secret_token',
};

export const WEBHOOK_PATH = '/api/v1/webhooks/zoom';

export interface E2eContextOptions {
  /** Start the Zoom simulator first, with these options on top of the test app's credentials. */
  simulator?: SimulatorOptions;
  /** The hub process under test (an in-process Nest app on an ephemeral port); omit for none. */
  hub?: AppModuleOptions;
  /**
   * Env overrides for the hub and for every app or worker process started through the
   * context. With a simulator, ZOOM_API_BASE_URL and ZOOM_OAUTH_BASE_URL point at it.
   */
  env?: (sim: ZoomSimulator | undefined) => Record<string, string> | Promise<Record<string, string>>;
  /** Point the simulator's webhooks at the hub (default: when the hub serves the API). */
  webhooks?: boolean;
}

export interface E2eContext {
  /** The simulator (throws when the context started none). */
  readonly sim: ZoomSimulator;
  readonly hub: TestApp;
  /** The env the hub was started with (the overrides only). */
  readonly env: Record<string, string>;
  /** The hub's Zoom webhook URL. */
  readonly webhookUrl: string;
  /** A supertest client for an app's HTTP server (the hub by default). */
  http(app?: TestApp): ReturnType<typeof request>;
  /** Starts another hub process (same env unless overridden); it is closed at teardown. */
  startApp(options: AppModuleOptions, env?: Record<string, string>): Promise<TestApp>;
  /** Closes an app started with startApp now (e.g. to kill a worker mid-test). */
  stopApp(app: TestApp): Promise<void>;
  /** Spawns a real worker process (src/main.worker.ts) with the context's env; SIGKILLed at teardown if still running. */
  spawnWorker(env: Record<string, string>): EntrypointProcess;
  /**
   * Waits until the hub's queues (those its worker consumes, or `queues`) have no job
   * left to run — see waitForQueuesIdle.
   */
  queuesIdle(options?: QueuesIdleOptions & { queues?: QueueName[] }): Promise<void>;
}

/**
 * One shared e2e setup: registers beforeAll/afterAll in the calling describe block that
 * start the simulator (when asked) and the hub, wire the simulator's webhooks to it, and
 * tear everything down (webhooks off, simulator, child processes, queues, extra apps,
 * hub), so no connection outlives the file.
 */
export function useE2eContext(options: E2eContextOptions): E2eContext {
  let sim: ZoomSimulator | undefined;
  let hub: TestApp | undefined;
  let env: Record<string, string> = {};
  const apps: TestApp[] = [];
  const children: EntrypointProcess[] = [];

  const ctx: E2eContext = {
    get sim() {
      if (!sim) throw new Error('this e2e context started no simulator');
      return sim;
    },
    get hub() {
      if (!hub) throw new Error('no hub: this e2e context starts none, or it is used outside a test');
      return hub;
    },
    get env() {
      return env;
    },
    get webhookUrl() {
      return `${ctx.hub.baseUrl}${WEBHOOK_PATH}`;
    },
    http: (app) => request((app ?? ctx.hub).app.getHttpServer()),
    startApp: async (appOptions, override) => {
      const app = await startTestApp(appOptions, { ...env, ...override });
      apps.push(app);
      return app;
    },
    stopApp: async (app) => {
      const i = apps.indexOf(app);
      if (i >= 0) apps.splice(i, 1);
      await app.close();
    },
    spawnWorker: (workerEnv) => {
      const p = spawnEntrypoint('main.worker.ts', { ...env, PORT: '0', ...workerEnv });
      children.push(p);
      return p;
    },
    queuesIdle: async ({ queues, ...rest } = {}) => {
      const names = queues ?? options.hub?.worker?.queues ?? ALL_QUEUES;
      await waitForQueuesIdle(names.map((n) => ctx.hub.producer.queue(n)), rest);
    },
  };

  beforeAll(async () => {
    if (options.simulator) sim = await ZoomSimulator.start({ ...TEST_ZOOM_APP, keepAliveMissLimit: E2E_KEEPALIVE_MISS_LIMIT, ...options.simulator });
    env = {
      ...(sim ? { ZOOM_API_BASE_URL: sim.apiBaseUrl, ZOOM_OAUTH_BASE_URL: sim.oauthBaseUrl } : {}),
      ...(await options.env?.(sim)),
    };
    if (options.hub) hub = await startTestApp(options.hub, env);
    if (sim && hub && (options.webhooks ?? options.hub?.api)) sim.setWebhookTarget(ctx.webhookUrl);
  });

  afterAll(async () => {
    sim?.setWebhookTarget(null);
    await teardownStep('stop the simulator', async () => sim?.stop());
    for (const c of children.splice(0)) await teardownStep(`SIGKILL child ${c.pid}`, () => c.stop('SIGKILL'));
    if (hub) {
      const h = hub;
      await teardownStep('obliterate the queues', () => obliterateQueues(h.producer));
      await teardownStep('mark app events and endpoints done', () => leaveNothingForTheNextFile(h));
    }
    for (const app of apps.splice(0).reverse()) await teardownStep('close an extra app', () => app.close(), () => app.pendingShutdownHooks());
    await teardownStep('close the hub', async () => hub?.close(), () => hub?.pendingShutdownHooks() ?? []);
  });

  return ctx;
}

/**
 * One teardown step, named in the log when it is slow: a teardown that hangs (once seen
 * after a Redis failover test) then says which step it is stuck in and, for an app,
 * which shutdown hooks it is waiting on. The watch never keeps the process alive itself.
 */
async function teardownStep(what: string, step: () => Promise<unknown>, waitingOn: () => string[] = () => []): Promise<void> {
  const started = Date.now();
  const watch = setInterval(() => {
    const pending = waitingOn();
    console.warn(`e2e teardown: still waiting to ${what} after ${Math.round((Date.now() - started) / 1000)} s${pending.length ? `; waiting on ${pending.join(', ')}` : ''}`);
  }, 20_000).unref();
  try {
    await step();
  } finally {
    clearInterval(watch);
    const ms = Date.now() - started;
    if (ms > 10_000) console.warn(`e2e teardown: ${what} took ${ms} ms`);
  }
}

/**
 * The test database is shared by every e2e file: app events this file recorded but never
 * fanned out, and its webhook endpoints, must not reach the next file's sweeper and
 * receivers (a stray session.created once showed up as an extra delivery there).
 */
async function leaveNothingForTheNextFile(hub: TestApp): Promise<void> {
  const db = hub.app.get(DataSource);
  await db.query(`UPDATE app_events SET fanned_out_at = now() WHERE fanned_out_at IS NULL`).catch(() => undefined);
  await db.query(`UPDATE webhook_endpoints SET enabled = false WHERE enabled`).catch(() => undefined);
}
