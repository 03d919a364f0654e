// The build leaves test/ out; the bench shares the tests' s3rver types.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../test/utils/s3rver.d.ts" />
/**
 * A local S3 server (s3rver, as the e2e tests use) in its own process, so a benchmark can
 * measure it apart from itself. Env: S3_PORT, S3_DIR, S3_BUCKET.
 */
import S3rver from '@20minutes/s3rver';

async function main(): Promise<void> {
  const s3 = new S3rver({
    port: Number(process.env.S3_PORT ?? 4569),
    address: '127.0.0.1',
    silent: true,
    directory: process.env.S3_DIR ?? '/tmp/s3rver',
    configureBuckets: [{ name: process.env.S3_BUCKET ?? 'bench' }],
    // s3rver canonicalises bucket-level paths without the trailing '/' the v3 SDK signs.
    allowMismatchedSignatures: true,
  });
  await s3.run();
  const stop = () => void s3.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
