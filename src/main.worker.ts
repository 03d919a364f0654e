import { createHubApp, runUntilSignal } from './bootstrap';
import { loadAppConfig } from './config/app.config';
import { loadEnvFile } from './config/load-env-file';
import { parseWorkerQueues } from './jobs/queue-names';

/**
 * Worker: consumes the queues in WORKER_QUEUES (empty = all). It serves only
 * /health/* and /metrics on PORT, for probes and scraping.
 */
async function main(): Promise<void> {
  loadEnvFile();
  const config = loadAppConfig();
  const queues = parseWorkerQueues(config.queues.workerQueues);
  const app = await createHubApp({ api: false, worker: { queues, explicit: config.queues.workerQueues.trim() !== '' } });
  await runUntilSignal(app, config.http.port, `rtms-hub worker [${queues.join(', ')}]`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
