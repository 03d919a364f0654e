import type Redis from 'ioredis';
import type { WorkerLoad } from './fair-share';

/**
 * Where stream workers announce themselves in Redis, shared by the workers
 * (StreamWorkerPresence), the drain script (scripts/worker-drain.ts) and the lost-host
 * check. All keys sit under the rtms-streams queue's qualified name (`<QUEUE_PREFIX>:rtms-streams`),
 * so they follow the queue's prefix (and its hash tag, where one is used).
 *
 * - `<qn>:workers`  hash workerId → JSON registration, rewritten every heartbeat; an entry
 *   older than REGISTRATION_TTL_MS is a dead worker (readers prune very old ones), and one
 *   older than TAKER_FRESH_MS no longer counts as a worker that can take streams.
 * - `<qn>:drain`    hash workerId → ISO time the drain was requested; pruned with the
 *   registrations (orphanDrainRequests).
 * - `<qn>:spool-hosts` hash SPOOL_HOST_ID → ms of the last heartbeat of a worker on that host
 *   (kept: the lost-host check needs it long after the worker is gone; that check forgets
 *   hosts silent for a day and past SPOOL_HOST_LOST_AFTER_SEC).
 */

export const HEARTBEAT_MS = 1000;
/** Listed (API, `worker:drain`) and drainable while its registration is this fresh. */
export const REGISTRATION_TTL_MS = 10_000;
/**
 * A worker counts as one that can take streams (fair share, a drain's hand-over) only while
 * its registration is this fresh: 2.5 heartbeats. A live worker rewrites it every second, so
 * one beat late by up to 1.5 s (a busy event loop, a slow Redis reply) does not drop it; a
 * crashed one stops counting at most 2.5 s after its last beat, about when its streams'
 * locks (1.6 s) have expired and they are back in `wait`, instead of making the survivors
 * refuse them as above their share for up to REGISTRATION_TTL_MS. Hosts' clocks are
 * assumed within a few hundred ms of each other (NTP): `at` is the writer's clock.
 */
export const TAKER_FRESH_MS = 2_500;
/** Registrations this old are deleted by whoever reads them. */
const PRUNE_AFTER_MS = 10 * 60_000;

export interface WorkerRegistration extends WorkerLoad {
  /** Its SPOOL_HOST_ID. */
  spoolHost: string;
  hostname: string;
  pid: number;
  /** Epoch ms of its last heartbeat. */
  at: number;
  /** Streams it handed over (a drain) that no worker runs yet: it is not drained while any. */
  handingOver: number;
}

export const workerKeys = (queueQualifiedName: string) => ({
  workers: `${queueQualifiedName}:workers`,
  drain: `${queueQualifiedName}:drain`,
  spoolHosts: `${queueQualifiedName}:spool-hosts`,
});

export function parseRegistration(raw: string): WorkerRegistration | null {
  try {
    const r = JSON.parse(raw) as Partial<WorkerRegistration>;
    if (typeof r.id !== 'string' || typeof r.at !== 'number') return null;
    return { id: r.id, running: Number(r.running ?? 0), cap: Number(r.cap ?? 0), draining: r.draining === true, spoolHost: String(r.spoolHost ?? ''), hostname: String(r.hostname ?? ''), pid: Number(r.pid ?? 0), at: r.at, handingOver: Number(r.handingOver ?? 0) };
  } catch {
    return null;
  }
}

/** Registrations from an HGETALL of `<qn>:workers`: the live ones, and the ids of those old enough to delete. */
export function liveRegistrations(all: Record<string, string>, now: number): { live: WorkerRegistration[]; stale: string[] } {
  const live: WorkerRegistration[] = [];
  const stale: string[] = [];
  for (const [id, raw] of Object.entries(all)) {
    const r = parseRegistration(raw);
    if (!r || now - r.at > PRUNE_AFTER_MS) stale.push(id);
    else if (now - r.at <= REGISTRATION_TTL_MS) live.push(r);
  }
  return { live, stale };
}

/**
 * The other workers as fair share and a drain see them: only fresh registrations
 * (TAKER_FRESH_MS), and one whose drain was requested counts as draining already, before
 * its own heartbeat says so (a drain of a whole host flags all its workers at once).
 */
export function peerRegistrations(registered: Record<string, string>, drainIds: string[], now: number, selfId: string): WorkerRegistration[] {
  const drainRequested = new Set(drainIds);
  return liveRegistrations(registered, now)
    .live.filter((w) => w.id !== selfId && now - w.at <= TAKER_FRESH_MS)
    .map((w) => (drainRequested.has(w.id) ? { ...w, draining: true } : w));
}

/**
 * Drain requests to delete: those of workers no longer registered, or whose registration
 * is being pruned (`stale`). A worker that shuts down deletes its own; one that crashed
 * left it behind.
 */
export function orphanDrainRequests(drainIds: string[], registered: Record<string, string>, stale: string[]): string[] {
  const pruned = new Set(stale);
  return drainIds.filter((id) => !(id in registered) || pruned.has(id));
}

/** The live workers a drain target names: a worker id, a SPOOL_HOST_ID or a host name. */
export function workersMatching(live: WorkerRegistration[], target: string): WorkerRegistration[] {
  return live.filter((w) => w.id === target || w.spoolHost === target || w.hostname === target);
}

export async function listWorkers(redis: Redis, queueQualifiedName: string, now = Date.now()): Promise<WorkerRegistration[]> {
  return liveRegistrations(await redis.hgetall(workerKeys(queueQualifiedName).workers), now).live;
}

/** Asks the given workers to drain (or to stop draining). Returns their ids. */
export async function requestDrain(redis: Redis, queueQualifiedName: string, workerIds: string[], drain: boolean): Promise<void> {
  if (workerIds.length === 0) return;
  const key = workerKeys(queueQualifiedName).drain;
  if (drain) await redis.hset(key, Object.fromEntries(workerIds.map((id) => [id, new Date().toISOString()])));
  else await redis.hdel(key, ...workerIds);
}
