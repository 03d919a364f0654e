import { WorkerHost } from '@nestjs/bullmq';
import { ModulesContainer } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Queue, Worker } from 'bullmq';
import { AppModuleOptions } from '../../src/app.module';
import { createHubApp } from '../../src/bootstrap';
import { JobProducer } from '../../src/jobs/job-producer.service';
import { ALL_QUEUES } from '../../src/jobs/queue-names';

import { ShutdownTracer } from '../../src/common/lifecycle/shutdown-tracer';
import { TEST_KEYS } from './test-keys';

export const API_KEY = TEST_KEYS.admin;
export { TEST_KEYS };
export const ADMIN_AUTH = 'Basic ' + Buffer.from('admin:test-admin-password').toString('base64');

export interface TestApp {
  app: NestExpressApplication;
  baseUrl: string;
  producer: JobProducer;
  close(): Promise<void>;
  /** While close() runs: the shutdown hooks it is still waiting on (shutdown-tracer.ts), and each BullMQ worker's state. */
  pendingShutdownHooks(): string[];
}

/** The app's BullMQ workers (one per consumed queue). */
export function workersOf(app: NestExpressApplication): Worker[] {
  const workers: Worker[] = [];
  for (const mod of app.get(ModulesContainer, { strict: false }).values()) {
    for (const wrapper of mod.providers.values()) if (wrapper.instance instanceof WorkerHost) workers.push(wrapper.instance.worker);
  }
  return workers;
}

/** Each BullMQ worker as a stuck close sees it: closing or not, its main loop, its two connections' statuses. */
function workerStates(app: NestExpressApplication): string[] {
  return workersOf(app).map((worker) => {
    const w = worker as unknown as {
      name: string;
      closing?: unknown;
      closed?: boolean;
      mainLoopRunning?: unknown;
      blockingConnection?: { status?: string; _client?: { status?: string } };
      connection?: { status?: string; _client?: { status?: string } };
    };
    const conn = (c?: { status?: string; _client?: { status?: string } }) => `${c?.status ?? '?'}/${c?._client?.status ?? '?'}`;
    return `${w.name}: ${w.closed ? 'closed' : w.closing ? 'closing' : 'open'}, main loop ${w.mainLoopRunning ? 'running' : 'stopped'}, blocking ${conn(w.blockingConnection)}, client ${conn(w.connection)}`;
  });
}

/**
 * Boots a real hub process in-process on an ephemeral port, against the test
 * Postgres and Redis. `env` overrides process.env for this app only (applied while
 * the config is read at boot).
 */
export async function startTestApp(options: AppModuleOptions, env: Record<string, string> = {}): Promise<TestApp> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  let app: NestExpressApplication;
  try {
    app = await createHubApp(options);
    await app.listen(0, '127.0.0.1');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  let tracer: ShutdownTracer | undefined;
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    producer: app.get(JobProducer),
    close: () => {
      tracer ??= new ShutdownTracer(app);
      return app.close();
    },
    pendingShutdownHooks: () => {
      const pending = tracer?.pending() ?? [];
      return pending.some((p) => p.includes('BullExplorer')) ? [...pending, ...workerStates(app)] : pending;
    },
  };
}

/** Removes every job of this test file's queues (its own prefix) from Redis. */
export async function obliterateQueues(producer: JobProducer): Promise<void> {
  await Promise.all(producer.allQueues().map((q: Queue) => q.obliterate({ force: true }).catch(() => undefined)));
}

export { ALL_QUEUES };
