import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { dbText } from '../savers/db-text';
import { returningRows } from '../../../database/returning-rows';
import type { AudioSegmentStatus } from '../entities/audio-segment.entity';

/** A segment to create (if missing) for one participant, segment window and spool host. */
export interface NewSegment {
  /** `${rtmsStreamId}|${userId}|${segmentStartMs}`: the key findIds answers by. */
  key: string;
  sessionId: string;
  rtmsStreamId: string;
  userId: string;
  userName: string | null;
  segmentStartMs: number;
  segmentMs: number;
  sampleRate: number;
  channels: number;
}

/** One flush's part of one segment: its packets' timestamps and lengths, and where its bytes are in the spool file. */
export interface NewPart {
  segmentId: string;
  packetTs: number[];
  packetLen: number[];
  fileOffset: number;
  /** Also refresh the segment's last_part_at. */
  touch: boolean;
}

/** A segment row as the WAV writer reads it. */
export interface StoredSegment {
  id: string;
  session_id: string;
  rtms_stream_id: string;
  user_id: string;
  user_name: string | null;
  segment_start_ms: string;
  segment_ms: number;
  sample_rate: number;
  channels: number;
  status: string;
  spool_host: string;
  created_at: Date;
  /** Segments other hosts spooled for the same window before this one (the stream moved mid-segment). */
  earlier: number;
}

/** A segment given up as lost (its spool host is gone). */
export interface LostSegment {
  session_id: string;
  rtms_stream_id: string;
  user_id: string;
  user_name: string | null;
  segment_start_ms: string;
  segment_ms: number;
  spool_host: string;
}

/** A part row as the WAV writer reads it (bigints as text). */
export interface StoredPart {
  segment_id: string;
  first_ts: string;
  last_ts: string;
  packet_ts: string[];
  packet_len: number[];
  pcm: Buffer | null;
  spool_file: string | null;
  file_offset: string | null;
}

/**
 * A JS number as a bigint parameter. String(1e19) is "1e+19", which Postgres refuses with
 * "invalid input syntax for type bigint" — failing the whole statement, i.e. every stream's
 * audio of that flush. Anything but a safe integer is refused here, before the query, as a
 * RangeError (which the audio spool reads as "these values are refused", not "the database
 * is down"). The parser keeps such timestamps out; this is the last guard.
 */
export function int8(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer Postgres bigint takes exactly: ${n}`);
  return String(n);
}

/** Postgres foreign_key_violation. */
const FK_VIOLATION = '23503';
const isForeignKeyViolation = (err: unknown) => err instanceof QueryFailedError && (err.driverError as { code?: string }).code === FK_VIOLATION;

/**
 * The SQL of the audio aggregate: `audio_segments` and their `audio_parts`. The lock
 * modes here are what keeps the spool's concurrent flushes and the WAV writer from
 * deadlocking (docs/storage.md): parts key-share-lock their segments, updates lock rows
 * FOR NO KEY UPDATE in id order, the writer takes FOR UPDATE SKIP LOCKED.
 */
@Injectable()
export class AudioSegmentsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Creates the segments that do not exist yet (one statement; existing ones are left as
   * they are). Segments of a session deleted meanwhile are left out: the session_id FK
   * fails the statement, and the segments are then inserted one session at a time,
   * skipping the sessions the FK refuses. (Its ON DELETE CASCADE removes segments whose
   * session is deleted after they went in.)
   */
  async insertSegments(segments: NewSegment[], spoolHost: string): Promise<void> {
    if (segments.length === 0) return;
    try {
      await this.insertSegmentsOnce(segments, spoolHost);
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      for (const sessionId of new Set(segments.map((s) => s.sessionId))) {
        await this.insertSegmentsOnce(
          segments.filter((s) => s.sessionId === sessionId),
          spoolHost,
        ).catch((e: unknown) => {
          if (!isForeignKeyViolation(e)) throw e;
        });
      }
    }
  }

  private async insertSegmentsOnce(segments: NewSegment[], spoolHost: string): Promise<void> {
    const sorted = [...segments].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    await this.db.query(
      `INSERT INTO audio_segments (session_id, rtms_stream_id, user_id, user_name, segment_start_ms, segment_ms, sample_rate, channels, spool_host)
       SELECT u.session_id, u.rtms_stream_id, u.user_id, u.user_name, u.seg_start, u.seg_ms, u.rate, u.channels, $9
         FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], $5::bigint[], $6::int[], $7::int[], $8::int[])
              AS u(session_id, rtms_stream_id, user_id, user_name, seg_start, seg_ms, rate, channels)
        ORDER BY u.rtms_stream_id, u.user_id, u.seg_start
       ON CONFLICT (rtms_stream_id, user_id, segment_start_ms, spool_host) DO NOTHING`,
      [
        sorted.map((r) => r.sessionId),
        sorted.map((r) => r.rtmsStreamId),
        sorted.map((r) => r.userId),
        sorted.map((r) => dbText(r.userName)),
        sorted.map((r) => int8(r.segmentStartMs)),
        sorted.map((r) => r.segmentMs),
        sorted.map((r) => r.sampleRate),
        sorted.map((r) => r.channels),
        spoolHost,
      ],
    );
  }

  /** Ids of this spool host's segments for the given windows, by NewSegment key; windows with no segment are absent. */
  async findIds(segments: Array<Pick<NewSegment, 'rtmsStreamId' | 'userId' | 'segmentStartMs'>>, spoolHost: string): Promise<Map<string, string>> {
    if (segments.length === 0) return new Map();
    const rows: Array<{ id: string; rtms_stream_id: string; user_id: string; seg_start: string }> = await this.db.query(
      `SELECT s.id, s.rtms_stream_id, s.user_id, s.segment_start_ms::text AS seg_start
         FROM audio_segments s
         JOIN unnest($1::varchar[], $2::varchar[], $3::bigint[]) AS u(rtms_stream_id, user_id, seg_start)
           ON s.rtms_stream_id = u.rtms_stream_id AND s.user_id = u.user_id AND s.segment_start_ms = u.seg_start
        WHERE s.spool_host = $4`,
      [segments.map((r) => r.rtmsStreamId), segments.map((r) => r.userId), segments.map((r) => int8(r.segmentStartMs)), spoolHost],
    );
    return new Map(rows.map((r) => [`${r.rtms_stream_id}|${r.user_id}|${r.seg_start}`, r.id]));
  }

  /**
   * Records one flush's parts in ONE statement (one round trip, its own transaction
   * unless `em` has one): it key-share-locks the segments (a segment cannot be deleted
   * under it, and the writer's FOR UPDATE SKIP LOCKED leaves it until the parts are in),
   * inserts the part rows of the segments that still exist and are not sealed (a part
   * already there is skipped: unique per segment, first and last packet), reopens segments
   * already written out that got new parts, and refreshes last_part_at where asked.
   *
   * A sealed segment's WAV is final and its parts are pruned: a part for it is late audio,
   * not stored (the caller counts it). Stored, it would point at its spool file, and no
   * sweep prunes a sealed segment's parts again: the file would stay until the session
   * is deleted.
   *
   * Locking is what keeps concurrent flushes (the spool runs two at once) from
   * deadlocking. KEY SHARE does not conflict with another flush's KEY SHARE nor with its
   * update of non-key columns (status, last_part_at), so flushes wait on each other only
   * where both update the same segment, and those rows are locked in id order. (With
   * FOR SHARE, two flushes that each refreshed a segment the other had share-locked
   * deadlocked: a one-second stall until Postgres broke it, then a retry.)
   *
   * Returns the status of the segments that still exist (after this flush): a segment
   * missing from the map vanished (session deleted, stream purged) and got no parts.
   */
  async insertParts(parts: NewPart[], spoolFile: string, em: EntityManager = this.db.manager): Promise<Map<string, AudioSegmentStatus>> {
    if (parts.length === 0) return new Map();
    const ids = [...new Set(parts.map((r) => r.segmentId))].sort();
    const segs: Array<{ id: string; status: AudioSegmentStatus }> = await em.query(
      `WITH segs AS (
         SELECT id, status FROM audio_segments WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE),
       ins AS (
         INSERT INTO audio_parts (segment_id, first_ts, last_ts, packet_ts, packet_len, spool_file, file_offset)
         SELECT u.segment_id, u.first_ts, u.last_ts, string_to_array(u.ts, ',')::bigint[], string_to_array(u.lens, ',')::int[], $7, u.off
           FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $8::bigint[]) AS u(segment_id, first_ts, last_ts, ts, lens, off)
          WHERE u.segment_id IN (SELECT id FROM segs WHERE status <> 'sealed')
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
        parts.map((r) => r.segmentId),
        parts.map((r) => int8(r.packetTs[0])),
        parts.map((r) => int8(r.packetTs[r.packetTs.length - 1])),
        parts.map((r) => r.packetTs.map(int8).join(',')),
        parts.map((r) => r.packetLen.join(',')),
        spoolFile,
        parts.map((r) => int8(r.fileOffset)),
        parts.filter((r) => r.touch).map((r) => r.segmentId),
      ],
    );
    return new Map(segs.map((x) => [x.id, x.status]));
  }

  /**
   * Locks the given segments for writing their WAV, in id order: only those still open,
   * spooled on this host (or before hosts were recorded: ''), and not held by another
   * writer or a flush (SKIP LOCKED: skipped, never waited for). Needs a transaction.
   */
  async claimOpen(ids: string[], spoolHost: string, em: EntityManager): Promise<StoredSegment[]> {
    if (ids.length === 0) return [];
    return em.query(
      `SELECT s.*, (SELECT count(*)::int FROM audio_segments o
                     WHERE o.rtms_stream_id = s.rtms_stream_id AND o.user_id = s.user_id AND o.segment_start_ms = s.segment_start_ms
                       AND (o.created_at, o.id) < (s.created_at, s.id)) AS earlier
         FROM audio_segments s
        WHERE s.id = ANY($1::uuid[]) AND s.status = 'open' AND s.spool_host IN ($2, '')
        ORDER BY s.id
          FOR UPDATE OF s SKIP LOCKED`,
      [ids, spoolHost],
    );
  }

  /** All parts of the given segments, by segment then first packet. */
  async findParts(segmentIds: string[], em: EntityManager = this.db.manager): Promise<StoredPart[]> {
    if (segmentIds.length === 0) return [];
    return em.query(
      `SELECT segment_id, first_ts::text, last_ts::text, packet_ts, packet_len, pcm, spool_file, file_offset::text
         FROM audio_parts WHERE segment_id = ANY($1::uuid[]) ORDER BY segment_id, first_ts`,
      [segmentIds],
    );
  }

  /** Marks segments written out: final, with the rate used and their WAV's artifact. */
  async markFinal(done: Array<{ id: string; sampleRate: number; artifactId: string | null }>, em: EntityManager = this.db.manager): Promise<void> {
    if (done.length === 0) return;
    await em.query(
      `UPDATE audio_segments s SET status = 'final', sample_rate = u.rate, artifact_id = u.artifact_id, updated_at = now()
         FROM unnest($1::uuid[], $2::int[], $3::uuid[]) AS u(id, rate, artifact_id) WHERE s.id = u.id`,
      [done.map((d) => d.id), done.map((d) => d.sampleRate), done.map((d) => d.artifactId)],
    );
  }

  /** This host's open segments with no part for `idleMs`, oldest window first (at most 500). */
  async findIdleOpen(idleMs: number, spoolHost: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM audio_segments WHERE status = 'open' AND spool_host IN ($2, '') AND last_part_at < now() - ($1::int * interval '1 millisecond')
        ORDER BY segment_start_ms LIMIT 500`,
      [idleMs, spoolHost],
    );
    return rows.map((r) => r.id);
  }

  /** Spool hosts other than `exceptHost` with open segments that got no part for `idleMs`. */
  async hostsWithIdleOpen(idleMs: number, exceptHost: string): Promise<string[]> {
    const rows: Array<{ spool_host: string }> = await this.db.query(
      `SELECT DISTINCT spool_host FROM audio_segments
        WHERE status = 'open' AND spool_host NOT IN ($2, '') AND last_part_at < now() - ($1::bigint * interval '1 millisecond')`,
      [idleMs, exceptHost],
    );
    return rows.map((r) => r.spool_host);
  }

  /**
   * Marks `lost` the open segments of `hosts` that got no part for `idleMs` (their PCM is on
   * a disk that is gone); returns them. A host that is back writes only `open` segments.
   */
  async markLost(hosts: string[], idleMs: number, em: EntityManager = this.db.manager): Promise<LostSegment[]> {
    if (hosts.length === 0) return [];
    return returningRows<LostSegment>(
      em.query(
        `UPDATE audio_segments SET status = 'lost', updated_at = now()
          WHERE status = 'open' AND spool_host = ANY($1::varchar[]) AND last_part_at < now() - ($2::bigint * interval '1 millisecond')
          RETURNING session_id, rtms_stream_id, user_id, user_name, segment_start_ms::text AS segment_start_ms, segment_ms, spool_host`,
        [hosts, idleMs],
      ),
    );
  }

  /**
   * This host's segments marked lost, each with the spool files its parts point at and
   * whether any part holds its PCM in the row (older rows): what a returning host checks
   * against its disk before reopening them.
   */
  async lostOnHost(spoolHost: string): Promise<Array<{ id: string; files: string[]; has_pcm: boolean }>> {
    return this.db.query(
      `SELECT s.id, coalesce(array_remove(array_agg(DISTINCT p.spool_file), NULL), '{}') AS files, coalesce(bool_or(p.pcm IS NOT NULL), false) AS has_pcm
         FROM audio_segments s LEFT JOIN audio_parts p ON p.segment_id = s.id
        WHERE s.status = 'lost' AND s.spool_host = $1
        GROUP BY s.id`,
      [spoolHost],
    );
  }

  /**
   * Reopens these segments if they are still this host's and lost (the host was silent past
   * SPOOL_HOST_LOST_AFTER_SEC and is back with their PCM); returns those reopened (locked
   * rows skipped: another writer of this host has them). Reopened, they are idle open
   * segments the sweep writes out, as after any crash.
   */
  async reopenLost(ids: string[], spoolHost: string, em: EntityManager = this.db.manager): Promise<LostSegment[]> {
    if (ids.length === 0) return [];
    return returningRows<LostSegment>(
      em.query(
        `UPDATE audio_segments SET status = 'open', updated_at = now()
          WHERE id IN (SELECT id FROM audio_segments WHERE id = ANY($1::uuid[]) AND status = 'lost' AND spool_host = $2 FOR UPDATE SKIP LOCKED)
          RETURNING session_id, rtms_stream_id, user_id, user_name, segment_start_ms::text AS segment_start_ms, segment_ms, spool_host`,
        [ids, spoolHost],
      ),
    );
  }

  /** Seals this host's segments written more than `retentionMin` minutes ago and deletes their parts; returns their ids. */
  async sealWritten(retentionMin: number, spoolHost: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.db.query(
      `WITH sealed AS (
         UPDATE audio_segments SET status = 'sealed' WHERE status = 'final' AND spool_host IN ($2, '') AND updated_at < now() - ($1::int * interval '1 minute') RETURNING id),
       gone AS (DELETE FROM audio_parts WHERE segment_id IN (SELECT id FROM sealed))
       SELECT id FROM sealed`,
      [retentionMin, spoolHost],
    );
    return rows.map((r) => r.id);
  }

  /** Which of the given spool files some part still points at. */
  async spoolFilesInUse(names: string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows: Array<{ spool_file: string }> = await this.db.query(`SELECT DISTINCT spool_file FROM audio_parts WHERE spool_file = ANY($1::varchar[])`, [names]);
    return new Set(rows.map((r) => r.spool_file));
  }

  /** Deletes a stream's segments (their parts go with them: FK cascade). */
  /** How many rows went: segments, and their parts (which cascade from them), counted first. */
  async deleteForStream(rtmsStreamId: string, em: EntityManager = this.db.manager): Promise<{ audio_segments: number; audio_parts: number }> {
    const [parts]: Array<{ n: number }> = await em.query(
      `SELECT count(*)::int AS n FROM audio_parts p JOIN audio_segments s ON s.id = p.segment_id WHERE s.rtms_stream_id = $1`,
      [rtmsStreamId],
    );
    const segments = await returningRows(em.query(`DELETE FROM audio_segments WHERE rtms_stream_id = $1 RETURNING 1`, [rtmsStreamId]));
    return { audio_segments: segments.length, audio_parts: parts.n };
  }

  /** The session's segments and their parts (what deleting the session cascades to). */
  async countForSession(sessionId: string, em: EntityManager = this.db.manager): Promise<{ audio_segments: number; audio_parts: number }> {
    const [row]: Array<{ segments: number; parts: number }> = await em.query(
      `SELECT (SELECT count(*)::int FROM audio_segments WHERE session_id = $1) AS segments,
              (SELECT count(*)::int FROM audio_parts p JOIN audio_segments s ON s.id = p.segment_id WHERE s.session_id = $1) AS parts`,
      [sessionId],
    );
    return { audio_segments: row.segments, audio_parts: row.parts };
  }

  /** How many of a session's segments are still open (their WAV not written yet, or reopened by a late part). */
  async countOpenForSession(sessionId: string): Promise<number> {
    const rows: Array<{ n: number }> = await this.db.query(`SELECT count(*)::int AS n FROM audio_segments WHERE session_id = $1 AND status = 'open'`, [sessionId]);
    return rows[0].n;
  }
}
