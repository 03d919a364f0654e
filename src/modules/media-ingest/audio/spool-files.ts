import { mkdirSync, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

/** A new spool file is started after this long, so old files can be removed as their segments are sealed. */
const ROTATE_MS = 60_000;

/** Spool file names: `audio-{process tag}-{sequence}.pcm`. */
export const SPOOL_FILE = /^audio-[0-9a-z-]+\.pcm$/;

/**
 * This process's audio spool: an append-only log of raw PCM. Each flush is one
 * positional write of all its parts, whatever the number of streams; the part rows in
 * Postgres say which file and offset hold their bytes. The file name carries a tag of
 * this process, so no two processes ever write one file, and the offset of every write
 * is known without asking the file system. Files rotate every minute; the segment
 * writer's sweep removes those no part points at any more.
 */
export class SpoolFiles {
  private readonly tag = `${process.pid}-${Date.now().toString(36)}`;
  private seq = 0;
  private current: { name: string; fh: FileHandle; size: number; openedAt: number } | null = null;
  private opening: Promise<NonNullable<SpoolFiles['current']>> | null = null;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * Appends every part's bytes in one positional writev (no joined copy of the flush);
   * resolves with the file and, per part, the offset its bytes start at.
   */
  async append(parts: Buffer[]): Promise<{ file: string; offsets: number[] }> {
    const f = await this.file();
    const offsets: number[] = [];
    let size = f.size;
    for (const part of parts) {
      offsets.push(size);
      size += part.length;
    }
    const start = f.size;
    // Reserved before the write: a failed write's range is never pointed at, nor reused.
    f.size = size;
    const total = size - start;
    const { bytesWritten } = await f.fh.writev(parts, start);
    if (bytesWritten < total) {
      // A short write (rare: a full disk, a signal): the rest in plain writes.
      const rest = Buffer.concat(parts).subarray(bytesWritten);
      let written = 0;
      while (written < rest.length) written += (await f.fh.write(rest, written, rest.length - written, start + bytesWritten + written)).bytesWritten;
    }
    return { file: f.name, offsets };
  }

  /** The file being written now (never removed by the sweep). */
  get currentFile(): string | null {
    return this.current?.name ?? null;
  }

  async close(): Promise<void> {
    const f = this.current;
    this.current = null;
    await f?.fh.close().catch(() => undefined);
  }

  private async file(): Promise<NonNullable<SpoolFiles['current']>> {
    const now = Date.now();
    if (this.current && now - this.current.openedAt < ROTATE_MS) return this.current;
    if (!this.opening) {
      this.opening = (async () => {
        const old = this.current;
        const name = `audio-${this.tag}-${this.seq++}.pcm`;
        const fh = await fs.open(path.join(this.dir, name), 'w');
        this.current = { name, fh, size: 0, openedAt: Date.now() };
        await old?.fh.close().catch(() => undefined);
        return this.current;
      })().finally(() => (this.opening = null));
    }
    return this.opening;
  }
}

/**
 * Reads byte ranges of a spool file with one open. Null when the file is not on this
 * host; a range the file does not fully hold comes back null.
 */
export async function readSpool(dir: string, file: string, ranges: Array<{ offset: number; length: number }>): Promise<Array<Buffer | null> | null> {
  if (!SPOOL_FILE.test(file)) throw new Error(`not a spool file name: ${file}`);
  let fh: FileHandle;
  try {
    fh = await fs.open(path.join(dir, file), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const out: Array<Buffer | null> = [];
    for (const { offset, length } of ranges) {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      out.push(got === length ? buf : null);
    }
    return out;
  } finally {
    await fh.close();
  }
}
