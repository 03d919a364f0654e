/**
 * Signals for a running stream job, sent through Redis pub/sub to whichever worker
 * holds the stream (never by polling the database).
 */
export type StreamSignalType =
  /** A new rtms_started with new server_urls: close everything and reconnect there. */
  | 'failover'
  /** rtms_interrupted: redo signaling and media. */
  | 'interrupted'
  /** rtms_stopped: end the job. */
  | 'stopped'
  /** Our API asked to end the stream: send STREAM_CLOSE_REQ. */
  | 'close'
  /** Erasure by participant: drop the users' spooled audio (docs/retention.md "Erasure"). */
  | 'erase_users';

export interface StreamSignal {
  type: StreamSignalType;
  rtmsStreamId: string;
  serverUrls?: string;
  stopReason?: number | null;
  /** erase_users: the Zoom user ids. */
  userIds?: string[];
  at: number;
}

export function streamSignalChannel(prefix: string): string {
  return `${prefix}:stream-signals`;
}
