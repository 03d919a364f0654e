import type { DataSource } from 'typeorm';
import { AudioSegmentsRepository } from '../repositories/audio-segments.repository';
import type { AppendResult, AudioPartStore, PartRow, SegmentRef } from './audio-spool.ports';
import { SpoolFiles } from './spool-files';

/** Which of the given session ids still exist (SessionsService.existingIds in production). */
export type ExistingSessions = (ids: string[]) => Promise<Set<string>>;

/**
 * Where the audio spool makes audio durable. PCM is bulk (8 MB/s for 50 five-person
 * meetings) and costs Postgres far more per byte than the local disk, so the bytes go to
 * this host's spool file (one write per flush) and Postgres gets only the bookkeeping: `audio_segments` (one
 * per participant, segment and spool host) and `audio_parts` (per flush and segment:
 * packet timestamps and lengths, and the file and offset of their bytes). A part is
 * durable once its row is committed; bytes a failed flush wrote are never pointed at.
 *
 * The SQL is AudioSegmentsRepository's; the store is built on the DataSource it is given
 * (a query runner, in tests that hold a flush open in a transaction).
 */
export class SpooledAudioStore implements AudioPartStore {
  private readonly segments: AudioSegmentsRepository;

  constructor(
    db: DataSource,
    private readonly files: SpoolFiles,
    private readonly spoolHost: string,
    private readonly existingSessions?: ExistingSessions,
  ) {
    this.segments = new AudioSegmentsRepository(db);
  }

  /**
   * Segments of a deleted session are left out, without failing the flush. The sessions
   * module owns that table, so we ask it first (one query, and only in flushes that start
   * segments: once per segment window and participant, not every 100 ms). A session
   * deleted between that answer and the insert is refused by the audio_segments.session_id
   * FK, and insertSegments then leaves its segments out; one deleted after the insert
   * takes its segments and their parts with it (ON DELETE CASCADE on both FKs), which the
   * next appendParts reports as vanished. So no orphan rows, and no flush that fails for
   * good. Without `existingSessions` (a store under test) the FK alone does it.
   */
  async ensureSegments(refs: SegmentRef[]): Promise<Map<string, string>> {
    const existing = this.existingSessions ? await this.existingSessions([...new Set(refs.map((r) => r.sessionId))]) : null;
    const kept = existing ? refs.filter((r) => existing.has(r.sessionId)) : refs;
    if (kept.length === 0) return new Map();
    await this.segments.insertSegments(kept, this.spoolHost);
    return this.segments.findIds(kept, this.spoolHost);
  }

  /**
   * Writes the PCM of all parts to this process's spool file (one write), then records
   * the parts in ONE statement (AudioSegmentsRepository.insertParts, which also holds
   * the locking rules). Bytes written for a segment that vanished are never pointed at.
   */
  async appendParts(rows: PartRow[]): Promise<AppendResult> {
    const { file, offsets } = await this.files.append(rows.map((r) => r.pcm ?? Buffer.concat(r.packets.map((p) => p.pcm))));
    const status = await this.segments.insertParts(
      rows.map((r, i) => ({ segmentId: r.segmentId, packetTs: r.packets.map((p) => p.ts), packetLen: r.packets.map((p) => p.pcm.length), fileOffset: offsets[i], touch: r.touch })),
      file,
    );
    const ids = [...new Set(rows.map((r) => r.segmentId))];
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
