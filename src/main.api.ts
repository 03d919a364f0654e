import { createHubApp, runUntilSignal } from './bootstrap';
import { loadAppConfig } from './config/app.config';
import { loadEnvFile } from './config/load-env-file';

/** API only: HTTP API, webhooks, OAuth, Bull Board, health, metrics; no processors. */
async function main(): Promise<void> {
  loadEnvFile();
  const config = loadAppConfig();
  const app = await createHubApp({ api: true });
  await runUntilSignal(app, config.http.port, 'rtms-hub api');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
