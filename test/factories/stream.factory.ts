import { JobName } from '../../src/jobs/job-names';
import type { ParticipantScript, ZoomSimulator } from '../../src/simulator';
import { query } from '../utils/db';
import type { TestApp } from '../utils/test-app';
import { waitFor } from '../utils/wait-for';

export interface StreamRow {
  status: string;
  owner_worker_id: string | null;
  connected_at: Date | null;
  last_keepalive_at: Date | null;
  reconnect_counts: Record<string, number>;
  failure_reason: string | null;
  stop_reason: number | null;
  session_id: string;
}

/** The hub's row of an RTMS stream (undefined before the hub has seen it). */
export async function streamRow(hub: TestApp, rtmsStreamId: string): Promise<StreamRow> {
  return (await query<StreamRow>(hub.app, `SELECT * FROM rtms_streams WHERE rtms_stream_id = $1`, [rtmsStreamId]))[0];
}

export interface StreamRowInput {
  rtmsStreamId: string;
  sessionId: string;
  serverUrls: string;
  status?: string;
}

/**
 * Inserts a stream row and queues its stream job directly, as the rtms_started handler
 * would (for sessions the webhook path cannot produce).
 */
export async function insertStreamAndRun(hub: TestApp, stream: StreamRowInput): Promise<void> {
  await query(hub.app, `INSERT INTO rtms_streams (rtms_stream_id, session_id, server_urls, status) VALUES ($1, $2, $3, $4)`, [
    stream.rtmsStreamId,
    stream.sessionId,
    stream.serverUrls,
    stream.status ?? 'pending',
  ]);
  await hub.producer.enqueue(JobName.StreamRun, { rtmsStreamId: stream.rtmsStreamId, sessionId: stream.sessionId }, { jobId: stream.rtmsStreamId });
}

/** Live sockets of a stream at the simulator: signaling, and media over every path. */
export function liveSockets(sim: ZoomSimulator, rtmsStreamId: string): { signaling: number; media: number } {
  const r = sim.record(rtmsStreamId);
  return { signaling: r.live.signaling, media: Object.values(r.live.media).reduce((a, b) => a + b, 0) };
}

/** True while the hub holds the stream with one signaling and one media socket. */
export function isLive(sim: ZoomSimulator, rtmsStreamId: string): boolean {
  const l = liveSockets(sim, rtmsStreamId);
  return l.signaling === 1 && l.media === 1;
}

/**
 * Starts a meeting and its RTMS stream at the simulator and waits until the hub holds
 * it: signaling + one media socket, a CLIENT_READY_ACK, and the stream row active.
 */
export async function startLiveStream(sim: ZoomSimulator, hub: TestApp, participants: ParticipantScript[] = [{ userId: 1, name: 'Ann' }]) {
  const meeting = sim.createMeeting({ participants });
  const stream = await sim.startRtms(meeting.id);
  await waitFor(() => isLive(sim, stream.streamId) && sim.record(stream.streamId).readyAcks.length > 0, { timeoutMs: 10000, what: 'stream connected' });
  await waitFor(async () => (await streamRow(hub, stream.streamId))?.status === 'active', { what: 'stream row active' });
  return { meeting, stream, id: stream.streamId };
}
