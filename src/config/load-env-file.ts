import { existsSync } from 'node:fs';

/**
 * Loads ./.env (if present) into process.env before configuration is validated.
 * Variables already set in the environment win, as with every dotenv loader.
 */
export function loadEnvFile(path = '.env'): void {
  if (process.env.NODE_ENV === 'test' || !existsSync(path)) return;
  process.loadEnvFile(path);
}
