import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { MediaItem } from '../../../jobs/job-payloads';
import type { MediaJobName, StreamIds } from './media-batcher';

export interface SpilledEntry {
  name: MediaJobName;
  ids: StreamIds;
  item: MediaItem;
}

/** A spill file read back: its entries, lines that could not be read, and `done()` to remove it once enqueued. */
export interface SpillFile {
  entries: SpilledEntry[];
  /** Lines that were not a whole entry (a process killed in the middle of an append). */
  unreadable: number;
  /** Taken over from a process that is gone (adoptOrphans). */
  adopted: boolean;
  /** Last written more than MAX_AGE_MS ago: not to be enqueued (see MAX_AGE_MS). */
  expired: boolean;
  /** The file could not be read at all (EIO, EACCES, too large): set aside as `*.bad`, no entries. */
  failed: string | null;
  /** With `failed`, what this process appended to it, by stream and job (none for an adopted file: not known). */
  lost: SpilledCount[];
  done: () => void;
}

/** How many entries of a stream and job a file holds. */
export interface SpilledCount {
  ids: StreamIds;
  name: MediaJobName;
  n: number;
}

/** When the spill's owner counts as gone, and how often the spill says it is alive and looks for files of owners gone. */
export interface SpillTimings {
  heartbeatMs: number;
  /** A heartbeat older than this: its process is gone (crashed, killed, or shut down without removing it). */
  staleMs: number;
}

/**
 * A spill file is closed for appends past this size, so it can be read back in one go;
 * one append spreads over as many files as it needs (a file ends at most one line past it).
 */
export const FILE_MAX_BYTES = 8 * 1024 * 1024;

const DEFAULT_TIMINGS: SpillTimings = { heartbeatMs: 10_000, staleMs: 60_000 };

/**
 * Spilled media older than this is not enqueued but dropped (reported per stream): what
 * waited a day on a disk (a host back after days) may belong to a participant erased, a
 * stream revoked or a session purged by retention since, and saving it now would bring
 * it back past those.
 */
export const MAX_AGE_MS = 24 * 3_600_000;

/**
 * Files of an owner with no heartbeat file at all (written by an older version, which had
 * none) count as orphans only after this long unwritten: such an owner may still be
 * running during a rolling upgrade, draining its spill.
 */
const LEGACY_STALE_MS = 3_600_000;

/**
 * `media-spill-{owner}-{seq}.jsonl`, the owner being `{pid}-{start, base 36}-{random}`
 * (random: two spills of one process, as in tests, stay apart; older versions wrote no
 * random part).
 */
const DATA_FILE = /^media-spill-(\d+-[0-9a-z]+(?:-[0-9a-f]+)?)-(\d+)\.jsonl$/;
/** `media-spill-{owner}.alive`: the owner's heartbeat (its mtime). */
const ALIVE_FILE = /^media-spill-(\d+-[0-9a-z]+-[0-9a-f]+)\.alive$/;

interface OwnFile {
  file: string;
  bytes: number;
  open: boolean;
  adopted: boolean;
  /** What this process appended, by `rtmsStreamId|job`: reported dropped if the file cannot be read back. */
  counts: Map<string, SpilledCount>;
}

/** An owner's start time, from its tag: orphans are adopted oldest owner first. */
function ownerStart(owner: string): number {
  return parseInt(owner.split('-')[1], 36);
}

/**
 * Where the media batcher puts what it cannot keep in memory while its queue is
 * unreachable: JSON lines in files of this process (`media-spill-{owner}-{seq}.jsonl`),
 * at most `maxBytes` in all. Files are read back oldest first and removed once enqueued.
 * Writes and reads are synchronous: they happen only during an outage, in chunks of a
 * few MiB, and keep the batcher's add() synchronous.
 *
 * The files outlive their process. A spill that holds files keeps a heartbeat file
 * (`…{owner}.alive`, written before its first file, touched every `heartbeatMs`, dated
 * back by `release()` at shutdown, removed if no file is left); files whose owner has
 * no fresh heartbeat belong to a process that is gone — shut down during an outage, or
 * killed — and the next spill on the same directory to look (at start and with every
 * heartbeat) renames them to itself and enqueues them. A rename is atomic, so two
 * processes looking at once cannot both take a file.
 */
export class MediaSpill {
  readonly owner = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  private seq = 0;
  /** Oldest first (adopted files ahead of this process's own); the last one is appended to until it is full or being drained. */
  private readonly files: OwnFile[] = [];
  private used = 0;
  private timer: NodeJS.Timeout | null = null;
  /**
   * Whether this spill's heartbeat file exists: written before its first file (its own or
   * adopted), so a process that never spills leaves nothing on disk (zero retention).
   */
  private beating = false;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly timings: SpillTimings = DEFAULT_TIMINGS,
  ) {
    if (maxBytes > 0) mkdirSync(dir, { recursive: true });
  }

  get bytes(): number {
    return this.used;
  }

  get empty(): boolean {
    return this.files.length === 0;
  }

  private get aliveFile(): string {
    return path.join(this.dir, `media-spill-${this.owner}.alive`);
  }

  /**
   * Starts the heartbeat, and adopts orphans now and with every beat; `adopted` hears of
   * each adoption (the batcher then drains them). Stopped by release().
   */
  watch(adopted: (files: number, bytes: number) => void): void {
    if (this.timer) return;
    const beat = () => {
      if (this.beating) this.sayAlive();
      const found = this.adoptOrphans();
      if (found.files > 0) adopted(found.files, found.bytes);
    };
    this.timer = setInterval(() => {
      try {
        beat();
      } catch {
        // The disk is failing: the next beat tries again; appends report their own errors.
      }
    }, this.timings.heartbeatMs);
    this.timer.unref();
    const found = this.adoptOrphans();
    if (found.files > 0) adopted(found.files, found.bytes);
  }

  /** Writes or touches the heartbeat file (recreated if an operator removed it: else our files would look orphaned). */
  private sayAlive(): void {
    try {
      const now = new Date();
      utimesSync(this.aliveFile, now, now);
    } catch {
      writeFileSync(this.aliveFile, '');
    }
    this.beating = true;
  }

  /**
   * Shutdown: the heartbeat stops. With files left, its file is dated back to 1970 so the
   * next process here takes them at once; with none, it is removed.
   */
  release(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.beating) return;
    this.beating = false;
    try {
      if (this.files.length === 0) rmSync(this.aliveFile, { force: true });
      else utimesSync(this.aliveFile, 0, 0);
    } catch {
      // Gone already: our files are adopted once they are staleMs old.
    }
  }

  /**
   * Takes over the files of owners gone, oldest owner first, and removes their stale
   * heartbeat files. Gone: a heartbeat older than `staleMs`; with no heartbeat file at all
   * (a process of an older version, or one killed before it started beating), a file not
   * written to for an hour (LEGACY_STALE_MS). Returns what it took.
   */
  adoptOrphans(): { files: number; bytes: number } {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return { files: 0, bytes: 0 };
    }
    const now = Date.now();
    const alive = new Map<string, number>();
    for (const n of names) {
      const m = ALIVE_FILE.exec(n);
      if (!m || m[1] === this.owner) continue;
      const mtime = this.mtime(n);
      if (mtime !== null) alive.set(m[1], mtime);
    }
    const gone = (owner: string, lastWrite: () => number | null) => {
      const beat = alive.get(owner);
      if (beat !== undefined) return now - beat > this.timings.staleMs;
      const written = lastWrite();
      return written !== null && now - written > Math.max(this.timings.staleMs, LEGACY_STALE_MS);
    };
    const orphans = names
      .map((n) => ({ n, m: DATA_FILE.exec(n) }))
      .filter((o): o is { n: string; m: RegExpExecArray } => o.m !== null && o.m[1] !== this.owner && gone(o.m[1], () => this.mtime(o.n)))
      .sort((a, b) => ownerStart(a.m[1]) - ownerStart(b.m[1]) || Number(a.m[2]) - Number(b.m[2]));
    const taken: OwnFile[] = [];
    if (orphans.length > 0 && !this.beating) {
      try {
        this.sayAlive(); // before the files are ours, so nobody takes them from us
      } catch {
        return { files: 0, bytes: 0 };
      }
    }
    for (const { n } of orphans) {
      const file = path.join(this.dir, `media-spill-${this.owner}-${this.seq++}.jsonl`);
      try {
        renameSync(path.join(this.dir, n), file);
      } catch {
        continue; // another process took it first
      }
      const bytes = this.size(file);
      taken.push({ file, bytes, open: false, adopted: true, counts: new Map() });
      this.used += bytes;
    }
    // Ahead of our own files: older, and our last file stays the one appended to.
    this.files.unshift(...taken);
    for (const [owner] of alive) {
      if (gone(owner, () => null)) rmSync(path.join(this.dir, `media-spill-${owner}.alive`), { force: true });
    }
    return { files: taken.length, bytes: taken.reduce((a, f) => a + f.bytes, 0) };
  }

  /**
   * Appends the entries, all or none: false when they do not fit in the budget or a write
   * failed (a full disk: the caller drops and reports them, so nothing of them may stay).
   * Written a file (FILE_MAX_BYTES) at a time, one string per line: a single string for a
   * whole relieve or shutdown (half or all of the memory budget) would make files too big
   * to read back in one go and, with budgets near a GiB, pass V8's max string length.
   */
  append(entries: SpilledEntry[]): boolean {
    if (entries.length === 0) return true;
    let lines: string[];
    try {
      lines = entries.map((e) => JSON.stringify(e) + '\n');
    } catch {
      return false;
    }
    const sizes = lines.map((l) => Buffer.byteLength(l));
    if (this.used + sizes.reduce((a, n) => a + n, 0) > this.maxBytes) return false;
    try {
      if (!this.beating) this.sayAlive(); // before our first file, so nobody takes it for an orphan
    } catch {
      return false;
    }
    const touched: Array<{ f: OwnFile; before: number; from: number; to: number }> = [];
    try {
      for (let i = 0; i < lines.length; ) {
        let f = this.files[this.files.length - 1];
        if (!f || !f.open || f.bytes >= FILE_MAX_BYTES) {
          f = { file: path.join(this.dir, `media-spill-${this.owner}-${this.seq++}.jsonl`), bytes: 0, open: true, adopted: false, counts: new Map() };
          this.files.push(f);
        }
        const t = { f, before: f.bytes, from: i, to: i };
        touched.push(t);
        let bytes = 0;
        while (i < lines.length && f.bytes + bytes < FILE_MAX_BYTES) bytes += sizes[i++];
        t.to = i;
        appendFileSync(f.file, lines.slice(t.from, i).join(''));
        f.bytes += bytes;
        this.used += bytes;
      }
    } catch {
      this.undo(touched);
      return false;
    }
    for (const t of touched) {
      for (let i = t.from; i < t.to; i++) {
        const key = `${entries[i].ids.rtmsStreamId}|${entries[i].name}`;
        const c = t.f.counts.get(key) ?? { ids: entries[i].ids, name: entries[i].name, n: 0 };
        c.n += 1;
        t.f.counts.set(key, c);
      }
    }
    return true;
  }

  /**
   * A failed append is taken back whole: files it started are removed, the one it added to
   * is cut back to its size before. Node may have written whole lines before the error
   * (ENOSPC part way), which would be read back and enqueued although reported dropped.
   */
  private undo(touched: Array<{ f: OwnFile; before: number }>): void {
    for (const { f, before } of touched.reverse()) {
      this.used -= f.bytes - before;
      f.bytes = before;
      try {
        if (before === 0) {
          rmSync(f.file, { force: true });
          this.files.splice(this.files.indexOf(f), 1);
        } else truncateSync(f.file, before);
      } catch {
        // Cannot be undone (the disk failing): closed, and what landed is read back as it is.
        f.open = false;
        f.bytes = this.size(f.file);
        this.used += f.bytes - before;
      }
    }
  }

  /**
   * The oldest file's entries; `done()` removes it once they are enqueued. Closes it for
   * appends. A file that cannot be read is renamed `*.bad` (kept for an operator, never
   * read again) and comes back `failed`, so one bad file cannot stop the spill.
   */
  oldest(): SpillFile | null {
    const f = this.files[0];
    if (!f) return null;
    f.open = false;
    const forget = () => {
      const i = this.files.indexOf(f);
      if (i < 0) return false;
      this.files.splice(i, 1);
      this.used -= f.bytes;
      return true;
    };
    let text: string;
    let writtenAt: number;
    try {
      writtenAt = this.mtimeOf(f.file) ?? Date.now();
      text = this.read(f.file);
    } catch (err) {
      forget();
      try {
        renameSync(f.file, `${f.file}.bad`);
      } catch {
        // Gone or unmovable: it is no longer in the list either way.
      }
      return { entries: [], unreadable: 0, adopted: f.adopted, expired: false, failed: `${f.file}: ${(err as Error).message}`, lost: [...f.counts.values()], done: () => undefined };
    }
    const entries: SpilledEntry[] = [];
    let unreadable = 0;
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      try {
        entries.push(JSON.parse(line) as SpilledEntry);
      } catch {
        unreadable += 1;
      }
    }
    return {
      entries,
      unreadable,
      adopted: f.adopted,
      expired: Date.now() - writtenAt > MAX_AGE_MS,
      failed: null,
      lost: [],
      done: () => {
        if (forget()) rmSync(f.file, { force: true });
      },
    };
  }

  /** A file's text; a file gone (removed by hand) reads as empty, so draining goes on. */
  private read(file: string): string {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  }

  private mtime(name: string): number | null {
    return this.mtimeOf(path.join(this.dir, name));
  }

  private mtimeOf(file: string): number | null {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return null;
    }
  }

  private size(file: string): number {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  }
}
