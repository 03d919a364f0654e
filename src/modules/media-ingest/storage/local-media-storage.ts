import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { assertSafeKey, hashFile, ByteRange, DeletedObjects, UnsafeStorageKeyError, GetResult, MediaStorage, PutResult, StorageObjectNotFoundError, StoredObject } from './media-storage';

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

  async put(key: string, body: Buffer, _contentType: string): Promise<PutResult> {
    const file = this.pathOf(key);
    await this.ensureDir(path.dirname(file));
    // Write aside and rename: a crash mid-write never leaves a truncated file under the key.
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.writeFile(tmp, body).catch(async (err: NodeJS.ErrnoException) => {
        // The folder was removed meanwhile (its session was deleted): make it again.
        if (err.code !== 'ENOENT') throw err;
        await this.ensureDir(path.dirname(file), true);
        await fs.writeFile(tmp, body);
      });
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
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
