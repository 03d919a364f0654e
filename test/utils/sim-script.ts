import type { ZoomSimulator } from '../../src/simulator';
import type { MediaKind } from '../../src/simulator/protocol';
import type { ParticipantScript } from '../../src/simulator/types';
import { waitFor } from './wait-for';

/** The participant's script moved to start at meeting time `t0`. */
export function startingAt(p: ParticipantScript, t0: number): Partial<ParticipantScript> {
  return {
    joinAtMs: t0 + (p.joinAtMs ?? 0),
    leaveAtMs: p.leaveAtMs === undefined ? undefined : t0 + p.leaveAtMs,
    speaks: p.speaks?.map((l) => ({ ...l, atMs: t0 + l.atMs })),
    chat: p.chat?.map((l) => ({ ...l, atMs: t0 + l.atMs })),
    shares: p.shares?.map((w) => ({ fromMs: t0 + w.fromMs, toMs: t0 + w.toMs })),
    cameraSchedule: p.cameraSchedule?.map((c) => ({ ...c, atMs: t0 + c.atMs })),
  };
}

/** A meeting whose participants are named but not there yet: `runScriptWhenMediaFlows` brings them in. */
export function waitingParticipants(script: ParticipantScript[]): ParticipantScript[] {
  return script.map((p) => ({ userId: p.userId, name: p.name, joinAtMs: Infinity }));
}

/**
 * Plays `script` on a live simulated meeting from the moment the hub receives every kind of
 * media in `kinds` (its times are then relative to that moment), and returns that moment in
 * meeting time. A script timed from the meeting's creation instead would race the hub's
 * connect: on a busy machine the first lines could end before anyone listened.
 */
export async function runScriptWhenMediaFlows(sim: ZoomSimulator, meetingId: number, streamId: string, script: ParticipantScript[], kinds: readonly MediaKind[]): Promise<number> {
  const live = sim.meeting(meetingId)!;
  const stream = sim.stream(streamId)!;
  await waitFor(
    () => {
      const flowing = new Set<MediaKind>([...stream.media.values()].filter((c) => c.active).flatMap((c) => c.kinds));
      return kinds.every((k) => flowing.has(k));
    },
    { timeoutMs: 20000, what: `the hub to receive ${kinds.join(', ')}` },
  );
  const t0 = live.now();
  for (const p of script) Object.assign(live.find(p.userId)!, startingAt(p, t0));
  return t0;
}

/** Waits until meeting time `t` (the script's end), then ends the meeting: its streams stop with reason 6 (MEETING_ENDED). */
async function endMeetingAt(sim: ZoomSimulator, meetingId: number, t: number): Promise<void> {
  const live = sim.meeting(meetingId)!;
  await waitFor(() => live.now() >= t, { timeoutMs: 60000, what: 'the end of the script' });
  sim.endMeeting(meetingId);
}

/**
 * The whole scripted meeting: `script` plays from the moment the hub receives `kinds`
 * (runScriptWhenMediaFlows), and the meeting ends `durationMs` of meeting time later.
 */
export async function playMeeting(sim: ZoomSimulator, meetingId: number, streamId: string, script: ParticipantScript[], kinds: readonly MediaKind[], durationMs: number): Promise<void> {
  const t0 = await runScriptWhenMediaFlows(sim, meetingId, streamId, script, kinds);
  await endMeetingAt(sim, meetingId, t0 + durationMs);
}
