import type Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadAppConfig } from '../../../config/app.config';
import { loadEnvFile } from '../../../config/load-env-file';
import { createRedisClient } from '../../../common/redis/redis-factory';
import { QueueName } from '../../../jobs/queue-names';
import { listWorkers, requestDrain, WorkerRegistration, workersMatching } from './stream-workers.registry';

const USAGE = `Usage: npm run worker:drain -- <worker-id|SPOOL_HOST_ID|hostname> [--wait] [--cancel]
       npm run worker:drain -- --list
  --wait    return once the drained workers hold no stream (then stop them)
  --cancel  the workers take streams again`;

const describe = (w: WorkerRegistration) => `${w.id}  host=${w.spoolHost}  streams=${w.running}/${w.cap}${w.draining ? '  draining' : ''}${w.handingOver > 0 ? '  handing a stream over' : ''}`;

/**
 * Rolling deploys (docs/operations.md): asks the live stream workers a target names to
 * drain. They stop taking streams and hand theirs over one at a time (the SIGTERM path);
 * once they hold none they can be stopped. Exit code 1 when no live worker matches.
 */
export async function runWorkerDrain(redis: Redis, queueQualifiedName: string, args: string[], log: (line: string) => void, waitTimeoutMs = 30 * 60_000): Promise<number> {
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  const target = args.find((a) => !a.startsWith('--'));
  if (flags.has('--list')) {
    const all = await listWorkers(redis, queueQualifiedName);
    log(all.length === 0 ? 'No live stream worker.' : all.map(describe).join('\n'));
    return 0;
  }
  if (!target) {
    log(USAGE);
    return 2;
  }
  const matched = workersMatching(await listWorkers(redis, queueQualifiedName), target);
  if (matched.length === 0) {
    log(`No live stream worker matches "${target}" (see --list).`);
    return 1;
  }
  const ids = matched.map((w) => w.id);
  const cancel = flags.has('--cancel');
  await requestDrain(redis, queueQualifiedName, ids, !cancel);
  log(`${cancel ? 'Drain cancelled for' : 'Draining'} ${ids.length} worker(s):\n${matched.map(describe).join('\n')}`);
  if (cancel || !flags.has('--wait')) return 0;
  const deadline = Date.now() + waitTimeoutMs;
  let saidNoTaker = false;
  for (;;) {
    const all = await listWorkers(redis, queueQualifiedName);
    const now = all.filter((w) => ids.includes(w.id));
    // A stream handed over that no worker runs yet is still this worker's to place.
    const busy = now.filter((w) => !w.draining || w.running > 0 || w.handingOver > 0);
    if (busy.length === 0) {
      log(`Drained: ${ids.length} worker(s) hold no stream and can be stopped.`);
      return 0;
    }
    if (!saidNoTaker && !all.some((w) => !ids.includes(w.id) && !w.draining && w.running < w.cap)) {
      // A draining worker hands a stream over only to one that can take it (docs/operations.md).
      log('No other worker can take their streams: they keep them until one can (start one, or --cancel).');
      saidNoTaker = true;
    }
    if (Date.now() > deadline) {
      log(`Still holding streams: \n${busy.map(describe).join('\n')}`);
      return 1;
    }
    await sleep(500);
  }
}

async function main(): Promise<number> {
  loadEnvFile();
  const config = loadAppConfig();
  // The hub's own connection factory: Sentinel and Cluster work here as everywhere else.
  const redis: Redis = createRedisClient(config.redis, 'rtms-hub:worker-drain', { maxRetriesPerRequest: 3 });
  try {
    return await runWorkerDrain(redis, `${config.queues.prefix}:${QueueName.RtmsStreams}`, process.argv.slice(2), (line) => console.log(line));
  } finally {
    redis.disconnect();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('worker:drain failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
