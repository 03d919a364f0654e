import { promises as fs, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { errorMessage } from '../../../common/errors/error-message';
import { ComposeMetrics } from './compose-metrics';

/** The name of every compose folder under COMPOSE_WORK_DIR, before the six characters `mkdtemp` adds. */
export const COMPOSE_DIR_PREFIX = 'rtms-compose-';
/**
 * What the sweep removes: exactly the names `mkdtemp` makes from the prefix, so other
 * folders in a shared temp dir (`rtms-compose-e2e-…` of the tests) are never taken for ours.
 */
const COMPOSE_DIR = /^rtms-compose-[A-Za-z0-9]{6}$/;

export interface ComposeWorkDirTimings {
  /** How often a running compose touches its folder: the folder's mtime is its owner's heartbeat. */
  heartbeatMs: number;
  /** A folder not touched for this long has no running compose in any process (killed, OOM, crashed): removed. */
  staleMs: number;
  /** How often the work dir is swept for such folders (and once at start). */
  sweepMs: number;
}

/**
 * Stale at 20 heartbeats: a compose that is alive never gets near it, and hosts sharing
 * the work dir over a volume may disagree on the time by minutes without harm.
 */
export const COMPOSE_WORK_DIR_TIMINGS: ComposeWorkDirTimings = { heartbeatMs: 30_000, staleMs: 10 * 60_000, sweepMs: 10 * 60_000 };

/** One compose attempt's private folder; `release()` stops its heartbeat and removes it. */
export interface ComposeWorkDir {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * The compose folders under COMPOSE_WORK_DIR (docs/recordings.md, "Files"). Each attempt
 * gets a `rtms-compose-*` folder of its own whose mtime is touched every `heartbeatMs`
 * while it runs. A worker killed mid-compose leaves its folder (downloaded media, a
 * partial MP4) behind; every compose worker sweeps the work dir at start and every
 * `sweepMs`, and removes the folders nobody has touched for `staleMs`, whichever process
 * or host made them (the work dir may be shared). Only real folders directly under the
 * work dir named as `mkdtemp` names ours are removed; symlinks are never followed (`fs.rm` unlinks a
 * link inside a folder, it does not descend into it).
 */
export class ComposeWorkDirs implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ComposeWorkDirs.name);
  /** This process's running composes: never swept, whatever their mtime says. */
  private readonly own = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<{ dirs: number; bytes: number }> | null = null;

  constructor(
    readonly workDir: string,
    private readonly metrics: ComposeMetrics,
    private readonly timings: ComposeWorkDirTimings = COMPOSE_WORK_DIR_TIMINGS,
  ) {}

  onApplicationBootstrap(): void {
    this.start();
  }

  onApplicationShutdown(): void {
    this.stop();
  }

  /** Sweeps now (not awaited: boot does not wait on a large folder's removal) and every `sweepMs`. */
  start(): void {
    if (this.timer) return;
    const sweep = () => void this.sweep().catch((err: unknown) => this.logger.warn(`Sweeping ${this.workDir} failed: ${errorMessage(err)}`));
    this.timer = setInterval(sweep, this.timings.sweepMs);
    this.timer.unref();
    sweep();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A new private folder for one compose attempt, its heartbeat running until release(). */
  async create(): Promise<ComposeWorkDir> {
    await fs.mkdir(this.workDir, { recursive: true });
    const dir = await fs.mkdtemp(path.join(this.workDir, COMPOSE_DIR_PREFIX));
    this.own.add(dir);
    let warned = false;
    const heartbeat = setInterval(() => {
      const now = new Date();
      void fs.utimes(dir, now, now).catch((err: unknown) => {
        // Gone (released meanwhile, or an operator cleaned up): nothing to keep alive.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || warned) return;
        warned = true;
        this.logger.warn(`Could not touch ${dir} (another compose worker may remove it): ${errorMessage(err)}`);
      });
    }, this.timings.heartbeatMs);
    heartbeat.unref();
    return {
      path: dir,
      release: async () => {
        clearInterval(heartbeat);
        // Left behind if this fails: no longer ours nor touched, so a sweep removes it later.
        this.own.delete(dir);
        await fs.rm(dir, { recursive: true, force: true }).catch((err: unknown) => this.logger.warn(`Could not remove ${dir}: ${errorMessage(err)}`));
      },
    };
  }

  /** Removes the stale compose folders; one sweep at a time (a second call joins the running one). */
  sweep(): Promise<{ dirs: number; bytes: number }> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<{ dirs: number; bytes: number }> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(this.workDir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { dirs: 0, bytes: 0 };
      throw err;
    }
    let dirs = 0;
    let bytes = 0;
    for (const entry of entries) {
      // Dirent types come from lstat: a symlink named like ours is neither followed nor removed.
      if (!COMPOSE_DIR.test(entry.name) || !entry.isDirectory()) continue;
      const dir = path.join(this.workDir, entry.name);
      if (this.own.has(dir)) continue;
      const st = await fs.lstat(dir).catch(() => null);
      if (!st?.isDirectory() || Date.now() - st.mtimeMs <= this.timings.staleMs) continue;
      const size = await treeBytes(dir);
      try {
        await fs.rm(dir, { recursive: true, force: true });
      } catch (err) {
        this.logger.warn(`Could not remove the stale compose folder ${dir}: ${errorMessage(err)}`);
        continue;
      }
      dirs++;
      bytes += size;
    }
    if (dirs > 0) {
      this.logger.warn(`Removed ${dirs} compose folder(s) left by compose workers that are gone (${bytes} bytes) from ${this.workDir}`);
      this.metrics.workDirsRemoved(dirs, bytes);
    }
    return { dirs, bytes };
  }
}

/** Bytes under `dir`, links counted as themselves (never followed). A compose folder is flat: cheap. */
async function treeBytes(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
  let total = 0;
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(p);
    else total += (await fs.lstat(p).catch(() => null))?.size ?? 0;
  }
  return total;
}
