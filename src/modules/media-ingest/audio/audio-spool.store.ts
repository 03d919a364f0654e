import type { DataSource } from 'typeorm';
import { dbText } from '../savers/db-text';
import type { AppendResult, AudioPartStore, PartRow, SegmentRef } from './audio-spool';
import { SpoolFiles } from './spool-files';

/**
 * Where the audio spool makes audio durable. PCM is bulk (8 MB/s for 50 five-person
 * meetings) and costs Postgres far more per byte than the local disk, so the bytes go to
 * this host's spool file (one write per flush) and Postgres gets only the bookkeeping: `audio_segments` (one
 * per participant, segment and spool host) and `audio_parts` (per flush and segment:
 * packet timestamps and lengths, and the file and offset of their bytes). A part is
 * durable once its row is committed; bytes a failed flush wrote are never pointed at.
 */
export class SpooledAudioStore implements AudioPartStore {
  constructor(
    private readonly db: DataSource,
    private readonly files: SpoolFiles,
    private readonly spoolHost: string,
  ) {}

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
      `INSERT INTO audio_segments (session_id, rtms_stream_id, user_id, user_name, segment_start_ms, segment_ms, sample_rate, channels, spool_host)
       SELECT u.session_id, u.rtms_stream_id, u.user_id, u.user_name, u.seg_start, u.seg_ms, u.rate, u.channels, $9
         FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], $5::bigint[], $6::int[], $7::int[], $8::int[])
              AS u(session_id, rtms_stream_id, user_id, user_name, seg_start, seg_ms, rate, channels)
        WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.id = u.session_id)
        ORDER BY u.rtms_stream_id, u.user_id, u.seg_start
       ON CONFLICT (rtms_stream_id, user_id, segment_start_ms, spool_host) DO NOTHING`,
      [...cols, this.spoolHost],
    );
    const rows: Array<{ id: string; rtms_stream_id: string; user_id: string; seg_start: string }> = await this.db.query(
      `SELECT s.id, s.rtms_stream_id, s.user_id, s.segment_start_ms::text AS seg_start
         FROM audio_segments s
         JOIN unnest($1::varchar[], $2::varchar[], $3::bigint[]) AS u(rtms_stream_id, user_id, seg_start)
           ON s.rtms_stream_id = u.rtms_stream_id AND s.user_id = u.user_id AND s.segment_start_ms = u.seg_start
        WHERE s.spool_host = $4`,
      [cols[1], cols[2], cols[4], this.spoolHost],
    );
    return new Map(rows.map((r) => [`${r.rtms_stream_id}|${r.user_id}|${r.seg_start}`, r.id]));
  }

  /**
   * Writes the PCM of all parts to this process's spool file (one write), then records
   * the parts in ONE statement (one round trip, its own transaction): it key-share-locks
   * the segments (a segment cannot be deleted under it, and the finalizer's FOR UPDATE
   * SKIP LOCKED leaves it until the parts are in), inserts the part rows of the segments
   * that still exist, reopens segments already written out that got new parts, and
   * refreshes last_part_at where asked. Bytes written for a segment that vanished are
   * never pointed at.
   *
   * Locking is what keeps concurrent writes (the spool runs two at once) from
   * deadlocking. KEY SHARE does not conflict with another write's KEY SHARE nor with its
   * update of non-key columns (status, last_part_at), so writes wait on each other only
   * where both update the same segment, and those rows are locked in id order. (With
   * FOR SHARE, two writes that each refreshed a segment the other had share-locked
   * deadlocked: a one-second stall until Postgres broke it, then a retry.)
   */
  async appendParts(rows: PartRow[]): Promise<AppendResult> {
    const { file, offsets } = await this.files.append(rows.map((r) => r.packets.map((p) => p.pcm)));
    const ids = [...new Set(rows.map((r) => r.segmentId))].sort();
    const segs: Array<{ id: string; status: string }> = await this.db.query(
      `WITH segs AS (
         SELECT id, status FROM audio_segments WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE),
       ins AS (
         INSERT INTO audio_parts (segment_id, first_ts, last_ts, packet_ts, packet_len, spool_file, file_offset)
         SELECT u.segment_id, u.first_ts, u.last_ts, string_to_array(u.ts, ',')::bigint[], string_to_array(u.lens, ',')::int[], $7, u.off
           FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $8::bigint[]) AS u(segment_id, first_ts, last_ts, ts, lens, off)
          WHERE u.segment_id IN (SELECT id FROM segs)
         ON CONFLICT (segment_id, first_ts, last_ts) DO NOTHING
         RETURNING segment_id),
       targets AS (
         SELECT id FROM audio_segments
          WHERE (id IN (SELECT segment_id FROM ins) AND id IN (SELECT id FROM segs WHERE status = 'final'))
             OR (id = ANY($9::uuid[]) AND id IN (SELECT id FROM segs WHERE status = 'open'))
          ORDER BY id FOR NO KEY UPDATE),
       upd AS (
         UPDATE audio_segments SET status = 'open', last_part_at = now(), updated_at = now()
          WHERE id IN (SELECT id FROM targets)
         RETURNING id)
       SELECT id, status FROM segs`, // (ins and upd run to completion whether read or not)
      [
        ids,
        rows.map((r) => r.segmentId),
        rows.map((r) => String(r.packets[0].ts)),
        rows.map((r) => String(r.packets[r.packets.length - 1].ts)),
        rows.map((r) => r.packets.map((p) => p.ts).join(',')),
        rows.map((r) => r.packets.map((p) => p.pcm.length).join(',')),
        file,
        offsets.map(String),
        rows.filter((r) => r.touch).map((r) => r.segmentId),
      ],
    );
    const status = new Map(segs.map((x) => [x.id, x.status]));
    return {
      vanished: new Set(ids.filter((id) => !status.has(id))),
      sealed: new Set(ids.filter((id) => status.get(id) === 'sealed')),
    };
  }

  get currentFile(): string | null {
    return this.files.currentFile;
  }

  close(): Promise<void> {
    return this.files.close();
  }
}
