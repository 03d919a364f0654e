import { createHubApp, runUntilSignal } from './bootstrap';
import { loadAppConfig } from './config/app.config';
import { loadEnvFile } from './config/load-env-file';
import { parseWorkerQueues } from './jobs/queue-names';

/** All-in-one: API and every worker in one process (laptop, demo, small box). */
async function main(): Promise<void> {
  loadEnvFile();
  const config = loadAppConfig();
  const queues = parseWorkerQueues(config.queues.workerQueues);
  const app = await createHubApp({ api: true, worker: { queues, explicit: config.queues.workerQueues.trim() !== '' } });
  await runUntilSignal(app, config.http.port, 'rtms-hub (api + workers)');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
