import { createHash } from 'node:crypto';
import type { AudioSegmentsRepository, StoredPart, StoredSegment } from '../repositories/audio-segments.repository';
import type { ArtifactRow } from '../repositories/media-artifacts.repository';
import { AudioSegmentWriter } from './audio-segment-writer';
import type { AppendResult, AudioPartStore, PartRow, SegmentRef } from './audio-spool.ports';
import { SpoolFiles } from './spool-files';

/**
 * The audio aggregate in memory, for unit tests of the real AudioSpool and
 * AudioSegmentWriter together: segment and part rows as Postgres keeps them (parts
 * unique per segment, first and last packet; sealed segments take none), the PCM in real
 * spool files under `dir`, and a transaction that applies its writes only when it commits.
 */
export class AudioRig {
  readonly segments = new Map<string, StoredSegment>();
  readonly parts: StoredPart[] = [];
  readonly artifacts = new Map<string, ArtifactRow & { id: string }>();
  readonly objects = new Map<string, Buffer>();
  readonly files: SpoolFiles;
  /** Storage refuses keys for which this is true (as a file system refuses a name). */
  refusePut: (key: string) => boolean = () => false;
  /** The artifact upsert fails the statement when a row matches (one row Postgres refuses). */
  refuseRow: (row: ArtifactRow) => boolean = () => false;
  sealCalls = 0;
  private nextId = 1;

  constructor(readonly dir: string, readonly host = 'rig') {
    this.files = new SpoolFiles(dir);
  }

  /** A segment row, open, as the spool's store creates it. */
  addSegment(ref: Omit<SegmentRef, 'key'> & { id?: string }): string {
    const id = ref.id ?? `seg-${this.nextId++}`;
    this.segments.set(id, {
      id,
      session_id: ref.sessionId,
      rtms_stream_id: ref.rtmsStreamId,
      user_id: ref.userId,
      user_name: ref.userName,
      segment_start_ms: String(ref.segmentStartMs),
      segment_ms: ref.segmentMs,
      sample_rate: ref.sampleRate,
      channels: ref.channels,
      status: 'open',
      spool_host: this.host,
      created_at: new Date(),
      earlier: 0,
    });
    return id;
  }

  /** A part whose PCM is in its row (the oldest layout), for tests that need no spool file. */
  addRowPart(segmentId: string, packets: Array<{ ts: number; pcm: Buffer }>): void {
    this.parts.push({
      segment_id: segmentId,
      first_ts: String(packets[0].ts),
      last_ts: String(packets[packets.length - 1].ts),
      packet_ts: packets.map((p) => String(p.ts)),
      packet_len: packets.map((p) => p.pcm.length),
      pcm: Buffer.concat(packets.map((p) => p.pcm)),
      spool_file: null,
      file_offset: null,
    });
  }

  /** The spool's store: PCM to the spool file, rows here. */
  readonly store: AudioPartStore = {
    ensureSegments: async (refs: SegmentRef[]) => {
      const out = new Map<string, string>();
      for (const r of refs) {
        const found = [...this.segments.values()].find((s) => s.rtms_stream_id === r.rtmsStreamId && s.user_id === r.userId && s.segment_start_ms === String(r.segmentStartMs));
        out.set(r.key, found?.id ?? this.addSegment(r));
      }
      return out;
    },
    appendParts: async (rows: PartRow[]): Promise<AppendResult> => {
      const { file, offsets } = await this.files.append(rows.map((r) => r.pcm ?? Buffer.concat(r.packets.map((p) => p.pcm))));
      const sealed = new Set<string>();
      rows.forEach((r, i) => {
        const seg = this.segments.get(r.segmentId)!;
        if (seg.status === 'sealed') return void sealed.add(seg.id);
        const first = String(r.packets[0].ts);
        const last = String(r.packets[r.packets.length - 1].ts);
        if (this.parts.some((p) => p.segment_id === seg.id && p.first_ts === first && p.last_ts === last)) return;
        this.parts.push({ segment_id: seg.id, first_ts: first, last_ts: last, packet_ts: r.packets.map((p) => String(p.ts)), packet_len: r.packets.map((p) => p.pcm.length), pcm: null, spool_file: file, file_offset: String(offsets[i]) });
        if (seg.status === 'final') seg.status = 'open';
      });
      return { vanished: new Set(), sealed };
    },
  };

  /** The writer, on this rig's rows, storage and spool directory. */
  writer(): AudioSegmentWriter {
    type Tx = { ops: Array<() => void> };
    const db = {
      transaction: async <T>(fn: (em: Tx) => Promise<T>): Promise<T> => {
        const tx: Tx = { ops: [] };
        const out = await fn(tx); // a throw discards tx.ops: rolled back
        for (const op of tx.ops) op();
        return out;
      },
    };
    const repo: Partial<AudioSegmentsRepository> = {
      claimOpen: async (ids: string[]) => ids.map((id) => this.segments.get(id)).filter((s): s is StoredSegment => s?.status === 'open' && s.spool_host === this.host).sort((a, b) => (a.id < b.id ? -1 : 1)),
      findParts: async (ids: string[]) => this.parts.filter((p) => ids.includes(p.segment_id)).sort((a, b) => (a.segment_id === b.segment_id ? Number(a.first_ts) - Number(b.first_ts) : a.segment_id < b.segment_id ? -1 : 1)),
      markFinal: async (done, em) => {
        (em as unknown as Tx).ops.push(() => {
          for (const d of done) Object.assign(this.segments.get(d.id)!, { status: 'final', sample_rate: d.sampleRate });
        });
      },
      findIdleOpen: async () => [...this.segments.values()].filter((s) => s.status === 'open').map((s) => s.id),
      sealWritten: async () => {
        this.sealCalls++;
        return [];
      },
      lostOnHost: async () => [],
    };
    const savers = {
      upsertArtifacts: async (em: Tx, rows: ArtifactRow[]) => {
        if (rows.some((r) => this.refuseRow(r))) throw new Error('invalid input syntax (one row of the batch)');
        em.ops.push(() => {
          for (const r of rows) this.artifacts.set(r.storageKey, { ...r, id: `art-${r.storageKey}` });
        });
        return new Map(rows.map((r) => [r.storageKey, `art-${r.storageKey}`]));
      },
    };
    const storage = {
      put: async (key: string, body: Buffer) => {
        if (this.refusePut(key)) throw Object.assign(new Error(`EACCES: refused ${key}`), { code: 'EACCES' });
        this.objects.set(key, Buffer.from(body));
        return { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
      },
    };
    const config = { get: () => ({ audioSpoolDir: this.dir, spoolHost: this.host }) };
    return new AudioSegmentWriter(db as never, storage as never, savers as never, config as never, repo as AudioSegmentsRepository);
  }

  /** The artifact of a segment's WAV (by its session and start), once written. */
  artifactOf(segmentId: string): (ArtifactRow & { id: string }) | undefined {
    const seg = this.segments.get(segmentId)!;
    return [...this.artifacts.values()].find((a) => a.sessionId === seg.session_id && a.userId === seg.user_id && (a.meta as { segment_start_ms?: number }).segment_start_ms === Number(seg.segment_start_ms));
  }
}
