import { createHash, randomBytes } from 'node:crypto';
import { close as closeCb, createReadStream, open as openCb, promises as fs, unlink as unlinkCb, write as writeCb } from 'node:fs';
import * as path from 'node:path';
import { assertSafeKey, hashFile, ByteRange, DeletedObjects, UnsafeStorageKeyError, GetResult, MediaStorage, PutResult, StorageObjectNotFoundError, StoredObject } from './media-storage';

/**
 * Creates `file` with `body`; false when it already exists (nothing written then). A
 * failed write removes what it created, so no truncated file is left behind to be
 * mistaken for an earlier complete one. Callback fs: one promise per file instead of one
 * per syscall (open, write, close), as this runs for every stored frame.
 */
function createExclusive(file: string, body: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    openCb(file, 'wx', (openErr, fd) => {
      if (openErr) return openErr.code === 'EEXIST' ? resolve(false) : reject(openErr);
      const fail = (err: Error) => closeCb(fd, () => unlinkCb(file, () => reject(err)));
      const writeFrom = (offset: number): void =>
        writeCb(fd, body, offset, body.length - offset, offset, (writeErr, n) => {
          if (writeErr) return fail(writeErr);
          if (offset + n < body.length) return writeFrom(offset + n);
          closeCb(fd, (closeErr) => (closeErr ? unlinkCb(file, () => reject(closeErr)) : resolve(true)));
        });
      writeFrom(0);
    });
  });
}

/** Whether the file holds exactly these bytes (a retried save finding its own earlier write). */
async function holdsExactly(file: string, body: Buffer): Promise<boolean> {
  const st = await fs.stat(file).catch(() => null);
  if (!st || st.size !== body.length) return false;
  return (await fs.readFile(file)).equals(body);
}

/** Local filesystem driver: keys map to files under one root directory. */
export class LocalMediaStorage implements MediaStorage {
  readonly driver = 'local' as const;
  private readonly root: string;
  /** Folders known to exist: one mkdir per folder rather than per frame. */
  private readonly knownDirs = new Set<string>();

  constructor(rootDir: string) {
    this.root = path.resolve(rootDir);
  }

  private async ensureDir(dir: string, again = false): Promise<void> {
    if (!again && this.knownDirs.has(dir)) return;
    await fs.mkdir(dir, { recursive: true });
    if (this.knownDirs.size > 10_000) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  private pathOf(key: string, allowTrailingSlash = false): string {
    assertSafeKey(key, allowTrailingSlash);
    const full = path.resolve(this.root, ...key.split('/').filter((p) => p.length > 0));
    if (full !== this.root && !full.startsWith(this.root + path.sep)) throw new UnsafeStorageKeyError('Storage key escapes the storage root');
    return full;
  }

  /**
   * A key's first write creates the file in place (exclusive create: no temporary name, no
   * rename — a frame costs about a third of the kernel time that way). Nothing can read it
   * half-written: readers reach an object through its row, and rows are inserted only
   * after put() returns. A key that already exists (a retried save, a crash mid-write, a
   * re-composed recording) keeps the old guarantee: the same bytes are left as they are,
   * other bytes replace the file atomically (write aside, rename).
   */
  async put(key: string, body: Buffer, _contentType: string): Promise<PutResult> {
    const file = this.pathOf(key);
    await this.ensureDir(path.dirname(file));
    const created = await createExclusive(file, body).catch(async (err: NodeJS.ErrnoException) => {
      // The folder was removed meanwhile (its session was deleted): make it again.
      if (err.code !== 'ENOENT') throw err;
      await this.ensureDir(path.dirname(file), true);
      return createExclusive(file, body);
    });
    if (!created && !(await holdsExactly(file, body))) await this.replace(file, body);
    return { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  }

  /** Writes aside and renames: a reader of the key sees the old file or the new one, never a mix. */
  private async replace(file: string, body: Buffer): Promise<void> {
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.writeFile(tmp, body);
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async putFile(key: string, filePath: string, _contentType: string): Promise<PutResult> {
    const file = this.pathOf(key);
    await this.ensureDir(path.dirname(file), true);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      // Copy aside and rename, as put(): readers never see a half-written recording.
      await fs.copyFile(filePath, tmp);
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return hashFile(file);
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    const file = this.pathOf(key);
    const st = await this.stat(key);
    if (!st) throw new StorageObjectNotFoundError(key);
    const stream = createReadStream(file, range ? { start: range.start, end: range.end } : {});
    return { stream, size: st.size, length: range ? range.end - range.start + 1 : st.size };
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const st = await fs.stat(this.pathOf(key));
      return st.isFile() ? { size: st.size } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<DeletedObjects> {
    if (!prefix.endsWith('/')) throw new Error('deletePrefix needs a folder prefix ending in /');
    const dir = this.pathOf(prefix, true);
    if (dir === this.root) throw new Error('Refusing to delete the storage root');
    const deleted: DeletedObjects = { objects: 0, bytes: 0 };
    try {
      const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
      for (const e of entries) {
        if (!e.isFile()) continue;
        deleted.objects++;
        // A file removed meanwhile (ENOENT) counts as deleted with no bytes.
        deleted.bytes += (await fs.stat(path.join(e.parentPath, e.name)).catch(() => null))?.size ?? 0;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { objects: 0, bytes: 0 };
      throw err;
    }
    await fs.rm(dir, { recursive: true, force: true });
    for (const known of this.knownDirs) if (known === dir || known.startsWith(dir + path.sep)) this.knownDirs.delete(known);
    return deleted;
  }

  locate(key: string): string {
    return this.pathOf(key);
  }
}
