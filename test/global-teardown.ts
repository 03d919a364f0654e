import type { PgBouncer } from './utils/pgbouncer';

/** The global setup leaves the PgBouncer it started (TEST_VIA_PGBOUNCER=1) here. */
export const PGBOUNCER_GLOBAL = '__rtmsHubTestPgBouncer';

/** Once after the e2e run: stop the suite's PgBouncer, if any. */
export default async function globalTeardown(): Promise<void> {
  const bouncer = (globalThis as Record<string, unknown>)[PGBOUNCER_GLOBAL] as PgBouncer | undefined;
  if (!bouncer) return;
  delete (globalThis as Record<string, unknown>)[PGBOUNCER_GLOBAL];
  await bouncer.stop();
}
