/**
 * The raw baseline of the media benchmarks (bench:ingest, bench:capacity): a minimal `ws` RTMS
 * client that does the handshakes, answers keep-alives, parses every message, base64-decodes its
 * payload and appends it to one file per stream — what any receiver has to do at the least.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { rtmsHandshakeSignature } from '../src/simulator';
import type { StreamSummary } from './sim-meetings';

export interface RawStats {
  messages: number;
  bytes: number;
  latencies: number[];
  windowOpen: boolean;
  windowMessages: number;
  windowBytes: number;
  received: Record<number, number>;
}

export const emptyRawStats = (): RawStats => ({ messages: 0, bytes: 0, latencies: [], windowOpen: false, windowMessages: 0, windowBytes: 0, received: {} });

export interface RawClientOptions {
  clientId: string;
  clientSecret: string;
  /** Audio packet length (ms), as the hub asks for. */
  audioMs: number;
  /** Video as the hub asks for it: codec (5 JPG, 7 H.264) and fps; default JPG at 5 fps. */
  video?: { codec: number; fps: number };
}

/** The minimal client: handshakes, keep-alives, parse, base64-decode, append to a file. */
export function rawClient(s: StreamSummary, dir: string, stats: RawStats, o: RawClientOptions): { ready: Promise<void>; close: () => void } {
  const signature = rtmsHandshakeSignature(o.clientId, o.clientSecret, s.meetingUuid, s.streamId);
  const fd = openSync(join(dir, `${s.streamId}.bin`), 'a');
  const sockets: WebSocket[] = [];
  let closed = false;
  const ready = new Promise<void>((resolve, reject) => {
    const sig = new WebSocket(s.serverUrls.split(',')[0]);
    sockets.push(sig);
    sig.on('error', reject);
    sig.on('open', () => sig.send(JSON.stringify({ msg_type: 1, protocol_version: 1, sequence: 1, meeting_uuid: s.meetingUuid, rtms_stream_id: s.streamId, signature })));
    sig.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { msg_type: number; status_code?: number; timestamp?: number; media_server?: { server_urls: Record<string, string> } };
      if (m.msg_type === 12) sig.send(JSON.stringify({ msg_type: 13, timestamp: m.timestamp }));
      if (m.msg_type !== 2) return;
      if (m.status_code !== 0 || !m.media_server) return reject(new Error(`signaling handshake ${m.status_code}`));
      const media = new WebSocket(m.media_server.server_urls.all);
      sockets.push(media);
      media.on('error', reject);
      media.on('open', () =>
        media.send(
          JSON.stringify({
            msg_type: 3,
            protocol_version: 1,
            sequence: 0,
            meeting_uuid: s.meetingUuid,
            rtms_stream_id: s.streamId,
            signature,
            media_type: 31,
            payload_encryption: false,
            media_params: {
              audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 2, send_rate: o.audioMs },
              video: { content_type: 3, codec: o.video?.codec ?? 5, resolution: 2, data_opt: 3, fps: o.video?.fps ?? 5 },
              deskshare: { content_type: 3, codec: 5, resolution: 2, fps: 5 },
              transcript: { content_type: 5 },
              chat: { content_type: 5 },
            },
          }),
        ),
      );
      media.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as { msg_type: number; status_code?: number; timestamp?: number; content?: { data?: string; timestamp?: number } };
        if (msg.msg_type === 12) return media.send(JSON.stringify({ msg_type: 13, timestamp: msg.timestamp }));
        if (msg.msg_type === 4) {
          if (msg.status_code !== 0) return reject(new Error(`media handshake ${msg.status_code}`));
          sig.send(JSON.stringify({ msg_type: 7, rtms_stream_id: s.streamId }));
          return resolve();
        }
        if (msg.msg_type < 14 || msg.msg_type > 18 || !msg.content?.data || closed) return;
        const buf = msg.msg_type <= 16 ? Buffer.from(msg.content.data, 'base64') : Buffer.from(msg.content.data, 'utf8');
        writeSync(fd, buf);
        stats.messages++;
        stats.bytes += buf.length;
        stats.received[msg.msg_type] = (stats.received[msg.msg_type] ?? 0) + 1;
        if (stats.windowOpen) {
          stats.windowMessages++;
          stats.windowBytes += buf.length;
          stats.latencies.push(Date.now() - Number(msg.content.timestamp));
        }
      });
    });
  });
  return {
    ready,
    close: () => {
      closed = true;
      for (const ws of sockets) ws.terminate();
      closeSync(fd);
    },
  };
}
