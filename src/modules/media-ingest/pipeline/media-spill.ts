import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type { MediaItem } from '../../../jobs/job-payloads';
import type { MediaJobName, StreamIds } from './media-batcher';

export interface SpilledEntry {
  name: MediaJobName;
  ids: StreamIds;
  item: MediaItem;
}

/** A spill file is closed for appends past this size, so it can be read back in one go. */
const FILE_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Where the media batcher puts what it cannot keep in memory while its queue is
 * unreachable: JSON lines in files of this process (`media-spill-{pid}-{start}-{seq}.jsonl`),
 * at most `maxBytes` in all. Files are read back oldest first and removed once enqueued.
 * Writes and reads are synchronous: they happen only during an outage, in chunks of a
 * few MiB, and keep the batcher's add() synchronous.
 */
export class MediaSpill {
  private readonly tag = `${process.pid}-${Date.now().toString(36)}`;
  private seq = 0;
  /** Oldest first; the last one is appended to until it is full or being drained. */
  private readonly files: Array<{ file: string; bytes: number; open: boolean }> = [];
  private used = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    if (maxBytes > 0) mkdirSync(dir, { recursive: true });
  }

  get bytes(): number {
    return this.used;
  }

  get empty(): boolean {
    return this.files.length === 0;
  }

  /** Appends the entries, or writes nothing and returns false if they do not fit in the budget. */
  append(entries: SpilledEntry[]): boolean {
    if (entries.length === 0) return true;
    const data = Buffer.from(entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    if (this.used + data.length > this.maxBytes) return false;
    let f = this.files[this.files.length - 1];
    if (!f || !f.open || f.bytes >= FILE_MAX_BYTES) {
      f = { file: path.join(this.dir, `media-spill-${this.tag}-${this.seq++}.jsonl`), bytes: 0, open: true };
      this.files.push(f);
    }
    appendFileSync(f.file, data);
    f.bytes += data.length;
    this.used += data.length;
    return true;
  }

  /** The oldest file's entries; `done()` removes it once they are enqueued. Closes it for appends. */
  oldest(): { entries: SpilledEntry[]; done: () => void } | null {
    const f = this.files[0];
    if (!f) return null;
    f.open = false;
    const entries = readFileSync(f.file, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as SpilledEntry);
    return {
      entries,
      done: () => {
        const i = this.files.indexOf(f);
        if (i < 0) return;
        this.files.splice(i, 1);
        this.used -= f.bytes;
        rmSync(f.file, { force: true });
      },
    };
  }
}
