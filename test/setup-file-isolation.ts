import { PerformanceObserver } from 'node:perf_hooks';

/**
 * Lets go of a test file's apps when the file ends. The e2e suite runs in band, and two
 * things kept every finished file's whole context alive — every app, pool and buffer it
 * made: ≈ 15 MB per file, over 1 GB by the end of the run.
 */

/**
 * TypeORM, class-validator and Nest's Swagger keep their decorator metadata on the global
 * object. The global setup (migrations) loads them in Jest's own realm, and Jest's node
 * environment hands each test file that realm's globals: every file's entity and DTO classes
 * then piled up in one shared storage. Each file starts with its own (the libraries create
 * one when it is unset).
 */
const LIBRARY_METADATA_STORAGES = ['typeormMetadataArgsStorage', 'classValidatorMetadataStorage', 'SwaggerGlobalParametersStorage', 'SwaggerGlobalResponsesStorage'];
for (const key of LIBRARY_METADATA_STORAGES) (globalThis as Record<string, unknown>)[key] = undefined;

/**
 * prom-client's default metrics start a GC PerformanceObserver per registry and never stop
 * it (one per app: harmless in a process that runs one hub), and its callback holds the
 * file's context. What a file starts observing is disconnected when the file ends.
 */
const observe = PerformanceObserver.prototype.observe;
const startedByThisFile = new Set<PerformanceObserver>();
PerformanceObserver.prototype.observe = function (this: PerformanceObserver, ...args: Parameters<PerformanceObserver['observe']>) {
  startedByThisFile.add(this);
  return observe.apply(this, args);
};

afterAll(() => {
  PerformanceObserver.prototype.observe = observe;
  for (const observer of startedByThisFile) observer.disconnect();
  startedByThisFile.clear();
});
