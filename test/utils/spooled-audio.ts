import { NestExpressApplication } from '@nestjs/platform-express';
import { query } from './db';

export interface SpooledAudioPacket {
  userId: number;
  timestamp: number;
  bytes: number;
}

/** Audio packets of a stream that the worker's audio spool has made durable, in timestamp order per user. */
export async function spooledAudio(app: NestExpressApplication, rtmsStreamId: string): Promise<SpooledAudioPacket[]> {
  const rows = await query<{ user_id: string; ts: string; len: number }>(
    app,
    `SELECT s.user_id, t.ts::text AS ts, t.len
       FROM audio_segments s JOIN audio_parts p ON p.segment_id = s.id, unnest(p.packet_ts, p.packet_len) AS t(ts, len)
      WHERE s.rtms_stream_id = $1
      ORDER BY s.user_id, t.ts`,
    [rtmsStreamId],
  );
  return rows.map((r) => ({ userId: Number(r.user_id), timestamp: Number(r.ts), bytes: r.len }));
}
