import { PerformanceObserver } from 'node:perf_hooks';

/**
 * prom-client's default metrics start a GC PerformanceObserver per registry and never stop
 * it (one per app: harmless in a process that runs one hub). In the in-band e2e run each
 * observer's callback kept its test file's whole context alive — every app, pool and buffer
 * the file made — so the run's heap grew by ≈ 15 MB per file. What a file starts observing is
 * disconnected when the file ends.
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
