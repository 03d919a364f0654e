import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { TEST_API_KEYS } from './utils/test-keys';

/**
 * Test environment, set before each e2e file loads. Point the suite at other services
 * with TEST_DATABASE_URL / TEST_REDIS_URL (TEST_VIA_PGBOUNCER=1: Postgres through PgBouncer). Each file gets its own BullMQ prefix so
 * files never see each other's jobs.
 */
const directDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/rtms_hub_test';
const defaults: Record<string, string> = {
  NODE_ENV: 'test',
  // Through PgBouncer when the global setup started one (TEST_VIA_PGBOUNCER=1); migrations direct.
  DATABASE_URL: process.env.TEST_PGBOUNCER_URL ?? directDatabaseUrl,
  MIGRATION_DATABASE_URL: directDatabaseUrl,
  REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
  // Composition (docs/recordings.md) is off unless a spec turns it on: recording.ready then comes at capture completion as before.
  COMPOSE_RECORDINGS: 'false',
  QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
  // A spool host per file: a hub's idle-segment sweep never writes out (into its own
  // storage root) the audio another file's hub left open when it was closed.
  SPOOL_HOST_ID: `test-host-${randomUUID().slice(0, 8)}`,
  // Stream workers spool audio here (created on first use), not in the working copy.
  AUDIO_SPOOL_DIR: path.join(os.tmpdir(), 'rtms-hub-test-spool'),
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  API_KEYS: TEST_API_KEYS,
  ADMIN_USERNAME: 'admin',
  ADMIN_PASSWORD: 'test-admin-password',
  PORT: '0',
  SHUTDOWN_TIMEOUT_MS: '10000',
  // Zoom app credentials shared with the simulator in e2e tests.
  ZOOM_CLIENT_ID: 'test_client_id',
  ZOOM_CLIENT_SECRET: 'test_client_secret',
  ZOOM_SDK_KEY: 'test_sdk_key',
  ZOOM_SDK_SECRET: 'test_sdk_secret',
  ZOOM_WEBHOOK_SECRET_TOKEN: 'test_webhook_secret_token',
  // The simulator's RTMS servers are plain ws:// on loopback.
  RTMS_ALLOWED_HOSTS: '127.0.0.1,localhost',
  RTMS_ALLOW_INSECURE_WS: 'true',
  // A fixed, test-only key (32 bytes): tokens at rest are always encrypted.
  TOKEN_ENCRYPTION_KEYS: 'test-k1:g8VJan4WQbWU399kn2flbdxDCPbQhdIcVpZsjyUIvNQ=',
};
for (const [key, value] of Object.entries(defaults)) process.env[key] = value;
