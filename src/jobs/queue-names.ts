/**
 * Every BullMQ queue of the hub, one per scaling unit (see docs/architecture.md).
 *
 * WARNING: the string values are the queue names in Redis. Renaming one strands every
 * job already waiting under the old name; add a new queue and drain the old instead.
 */
export enum QueueName {
  ZoomEvents = 'zoom-events',
  RtmsControl = 'rtms-control',
  RtmsStreams = 'rtms-streams',
  MediaFrames = 'media-frames',
  ZoomRooms = 'zoom-rooms',
  OAuth = 'oauth',
  AppWebhooks = 'app-webhooks',
  Maintenance = 'maintenance',
  MediaCompose = 'media-compose',
}

export const ALL_QUEUES: readonly QueueName[] = Object.values(QueueName);

export function isQueueName(value: string): value is QueueName {
  return (ALL_QUEUES as readonly string[]).includes(value);
}

/**
 * Parses WORKER_QUEUES ("a,b"; empty = every queue). Unknown names are an error that
 * names them, so a typo cannot silently leave a queue without consumers.
 */
export function parseWorkerQueues(raw: string | undefined): QueueName[] {
  const names = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) return [...ALL_QUEUES];
  const unknown = names.filter((n) => !isQueueName(n));
  if (unknown.length > 0) {
    throw new Error(
      `WORKER_QUEUES names unknown queue(s): ${unknown.join(', ')}. Known queues: ${ALL_QUEUES.join(', ')}`,
    );
  }
  return [...new Set(names as QueueName[])];
}
