/**
 * Driving the Zoom simulator's control API from a benchmark: meetings whose participants
 * take turns speaking and chat now and then, their RTMS streams, and what the simulator
 * recorded as sent.
 */

export interface StreamSummary {
  streamId: string;
  meetingUuid: string;
  serverUrls: string;
  state: string;
}

export interface SimRecord {
  state: string;
  readyAcks: unknown[];
  /** Messages sent per RTMS msg_type (14 audio … 18 chat). */
  messagesSent: { byType: Record<string, number> };
}

export const MEDIA_MSG_TYPES = [14, 15, 16, 17, 18];

/** A client of one simulator's control API (`/_sim/…`). */
export class SimControl {
  constructor(private readonly baseUrl: string) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`simulator ${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Starts `count` meetings of `participants` each, lasting `lengthS`, and RTMS on each. */
  async startMeetings(count: number, participants: number, lengthS: number): Promise<StreamSummary[]> {
    const streams: StreamSummary[] = [];
    for (let k = 0; k < count; k++) {
      const m = await this.call<{ id: number }>('POST', '/_sim/meetings', meetingScript(k, participants, lengthS));
      streams.push(await this.call<StreamSummary>('POST', `/_sim/meetings/${m.id}/rtms/start`));
    }
    return streams;
  }

  records(streams: StreamSummary[]): Promise<SimRecord[]> {
    return Promise.all(streams.map((s) => this.call<SimRecord>('GET', `/_sim/streams/${s.streamId}/record`)));
  }

  /** Pauses RTMS on every stream (msg 8 PAUSED; no more media is sent until a resume). */
  pauseAll(streams: StreamSummary[]): Promise<unknown> {
    return Promise.all(streams.map((s) => this.call('POST', `/_sim/streams/${s.streamId}/pause`, {})));
  }

  stopAll(streams: StreamSummary[]): Promise<unknown> {
    return Promise.all(streams.map((s) => this.call('POST', `/_sim/streams/${s.streamId}/stop`, {})));
  }

  setWebhookTarget(url: string | null): Promise<unknown> {
    return this.call('POST', '/_sim/webhook-target', { url });
  }
}

/** A meeting of `participants` who take turns speaking (active speaker video + transcript) every 3 s and chat now and then. */
export function meetingScript(k: number, participants: number, lengthS: number) {
  const people = Array.from({ length: participants }, (_, i) => ({
    userId: 16_000_000 + k * 100 + i,
    name: `Bench ${k}.${i}`,
    speaks: [] as Array<{ atMs: number; text: string; durationMs: number }>,
    chat: [] as Array<{ atMs: number; text: string }>,
  }));
  for (let t = 1000, turn = 0; t < lengthS * 1000; t += 3000, turn++) {
    people[turn % participants].speaks.push({ atMs: t, text: `line ${turn} of meeting ${k}`, durationMs: 2500 });
    if (turn % 4 === 0) people[(turn + 1) % participants].chat.push({ atMs: t + 500, text: `chat ${turn}` });
  }
  return { topic: `bench ${k}`, participants: people };
}

/** Messages sent per msg_type, summed over streams. */
export function sentTotals(recs: SimRecord[]): Record<number, number> {
  const byType: Record<number, number> = {};
  for (const r of recs) for (const t of MEDIA_MSG_TYPES) byType[t] = (byType[t] ?? 0) + (r.messagesSent.byType[t] ?? 0);
  return byType;
}

export const sumValues = (o: Record<number, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
