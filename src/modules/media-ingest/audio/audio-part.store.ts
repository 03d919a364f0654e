import type { DataSource } from 'typeorm';
import { dbText } from '../savers/db-text';
import type { AppendResult, AudioPartStore, PartRow, SegmentRef } from './audio-spool';

/**
 * The spool's Postgres side: `audio_segments` rows (one per participant and segment) and
 * `audio_parts` (the PCM of one flush for one segment). A flush is a few set-based
 * statements whatever the number of streams in it.
 */
export class PgAudioPartStore implements AudioPartStore {
  constructor(private readonly db: DataSource) {}

  async ensureSegments(refs: SegmentRef[]): Promise<Map<string, string>> {
    const sorted = [...refs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const cols = [
      sorted.map((r) => r.sessionId),
      sorted.map((r) => r.rtmsStreamId),
      sorted.map((r) => r.userId),
      sorted.map((r) => dbText(r.userName)),
      sorted.map((r) => String(r.segmentStartMs)),
      sorted.map((r) => r.segmentMs),
      sorted.map((r) => r.sampleRate),
      sorted.map((r) => r.channels),
    ];
    // Segments of a session deleted meanwhile are skipped rather than failing the whole flush.
    await this.db.query(
      `INSERT INTO audio_segments (session_id, rtms_stream_id, user_id, user_name, segment_start_ms, segment_ms, sample_rate, channels)
       SELECT u.session_id, u.rtms_stream_id, u.user_id, u.user_name, u.seg_start, u.seg_ms, u.rate, u.channels
         FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], $5::bigint[], $6::int[], $7::int[], $8::int[])
              AS u(session_id, rtms_stream_id, user_id, user_name, seg_start, seg_ms, rate, channels)
        WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.id = u.session_id)
        ORDER BY u.rtms_stream_id, u.user_id, u.seg_start
       ON CONFLICT (rtms_stream_id, user_id, segment_start_ms) DO NOTHING`,
      cols,
    );
    const rows: Array<{ id: string; rtms_stream_id: string; user_id: string; seg_start: string }> = await this.db.query(
      `SELECT s.id, s.rtms_stream_id, s.user_id, s.segment_start_ms::text AS seg_start
         FROM audio_segments s
         JOIN unnest($1::varchar[], $2::varchar[], $3::bigint[]) AS u(rtms_stream_id, user_id, seg_start)
           ON s.rtms_stream_id = u.rtms_stream_id AND s.user_id = u.user_id AND s.segment_start_ms = u.seg_start`,
      [cols[1], cols[2], cols[4]],
    );
    return new Map(rows.map((r) => [`${r.rtms_stream_id}|${r.user_id}|${r.seg_start}`, r.id]));
  }

  /**
   * One transaction: share-lock the segments (so the finalizer, FOR UPDATE SKIP LOCKED,
   * leaves them until the parts are in), insert the parts (all PCM as one binary
   * parameter, each part a slice of it), then reopen segments already written out and
   * refresh last_part_at where asked.
   */
  async appendParts(rows: PartRow[]): Promise<AppendResult> {
    return this.db.transaction(async (em) => {
      const ids = [...new Set(rows.map((r) => r.segmentId))].sort();
      const segs: Array<{ id: string; status: string }> = await em.query(`SELECT id, status FROM audio_segments WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE`, [ids]);
      const status = new Map(segs.map((s) => [s.id, s.status]));
      const vanished = new Set(ids.filter((id) => !status.has(id)));
      const live = rows.filter((r) => status.has(r.segmentId));
      const sealed = new Set(live.filter((r) => status.get(r.segmentId) === 'sealed').map((r) => r.segmentId));
      if (live.length === 0) return { vanished, sealed };
      const pcm: Buffer[] = [];
      const offsets: number[] = [];
      const sizes: number[] = [];
      let offset = 0;
      for (const r of live) {
        offsets.push(offset);
        let size = 0;
        for (const p of r.packets) {
          pcm.push(p.pcm);
          size += p.pcm.length;
        }
        sizes.push(size);
        offset += size;
      }
      const inserted: Array<{ segment_id: string }> = await em.query(
        `INSERT INTO audio_parts (segment_id, first_ts, last_ts, packet_ts, packet_len, pcm)
         SELECT u.segment_id, u.first_ts, u.last_ts, string_to_array(u.ts, ',')::bigint[], string_to_array(u.lens, ',')::int[], substring($7::bytea FROM u.off + 1 FOR u.size)
           FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::int[], $8::int[]) AS u(segment_id, first_ts, last_ts, ts, lens, off, size)
         ON CONFLICT (segment_id, first_ts, last_ts) DO NOTHING
         RETURNING segment_id`,
        [
          live.map((r) => r.segmentId),
          live.map((r) => String(r.packets[0].ts)),
          live.map((r) => String(r.packets[r.packets.length - 1].ts)),
          live.map((r) => r.packets.map((p) => p.ts).join(',')),
          live.map((r) => r.packets.map((p) => p.pcm.length).join(',')),
          offsets,
          Buffer.concat(pcm),
          sizes,
        ],
      );
      const added = [...new Set(inserted.map((r) => r.segment_id))];
      const touch = live.filter((r) => r.touch).map((r) => r.segmentId);
      const reopen = added.filter((id) => status.get(id) === 'final');
      if (reopen.length > 0 || touch.length > 0) {
        // A written segment with new parts is open again (the savers rewrite its WAV).
        await em.query(
          `UPDATE audio_segments SET status = 'open', last_part_at = now(), updated_at = now()
            WHERE (id = ANY($1::uuid[]) AND status IN ('open', 'final')) OR (id = ANY($2::uuid[]) AND status = 'open')`,
          [reopen, touch],
        );
      }
      return { vanished, sealed };
    });
  }
}
