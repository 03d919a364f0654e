/**
 * The per-stream record (types.ts StreamRecord): what the simulator saw and sent, kept after
 * the stream ends so tests and the control API can check a client's behaviour.
 */
import { WebSocket } from 'ws';
import { MEDIA_KINDS } from './protocol';
import type { Conn, MediaPath, Stream } from './rtms-stream';
import type { KeepAliveStats, StreamRecord } from './types';

function newKa(): KeepAliveStats {
  return { sent: 0, answered: 0, latenciesMs: [] };
}

export function emptyRecord(streamId: string): StreamRecord {
  return {
    streamId,
    state: 'unknown',
    handshakes: [],
    readyAcks: [],
    keepAlives: { signaling: newKa(), media: newKa() },
    messagesSent: { byType: {}, byUser: {} },
    messagesReceived: { byType: {}, invalid: 0 },
    subscriptions: [],
    connections: [],
    live: { signaling: 0, media: { all: 0, audio: 0, video: 0, deskshare: 0, transcript: 0, chat: 0 } },
    maxLiveSignaling: 0,
    maxLiveMedia: 0,
    disconnects: [],
    notes: [],
  };
}

export class RtmsRecorder {
  constructor(
    private readonly records: Map<string, StreamRecord>,
    private readonly log: (line: string) => void,
  ) {}

  record(streamId: string): StreamRecord {
    let r = this.records.get(streamId);
    if (!r) {
      r = emptyRecord(streamId);
      this.records.set(streamId, r);
    }
    return r;
  }

  note(s: Stream, note: string): void {
    this.record(s.streamId).notes.push({ at: Date.now(), note });
    this.log(`[${s.streamId.slice(0, 8)}] ${note}`);
  }

  setState(s: Stream, state: StreamRecord['state']): void {
    s.state = state;
    this.record(s.streamId).state = state;
  }

  updateLive(s: Stream): void {
    const r = this.record(s.streamId);
    const open = (c: Conn | undefined) => !!c && c.handshaken && !c.closing && c.ws.readyState === WebSocket.OPEN;
    r.live.signaling = open(s.signaling) ? 1 : 0;
    let media = 0;
    for (const p of ['all', ...MEDIA_KINDS] as MediaPath[]) {
      r.live.media[p] = open(s.media.get(p)) ? 1 : 0;
      media += r.live.media[p];
    }
    r.maxLiveSignaling = Math.max(r.maxLiveSignaling, r.live.signaling);
    r.maxLiveMedia = Math.max(r.maxLiveMedia, media);
  }
}
