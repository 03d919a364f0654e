import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { LocalMediaStorage } from './local-media-storage';

const KEY = 'sessions/s1/video_frame/u1/1000.jpg';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every file under a folder, recursively (to catch stray temporary files). */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('LocalMediaStorage.put', () => {
  let root: string;
  let storage: LocalMediaStorage;

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'local-storage-'));
    storage = new LocalMediaStorage(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates a new key in place and reports its size and sha256', async () => {
    const body = Buffer.from('first frame');
    await expect(storage.put(KEY, body, 'image/jpeg')).resolves.toEqual({ bytes: body.length, sha256: sha(body) });
    expect(readFileSync(storage.locate(KEY))).toEqual(body);
    expect(allFiles(root)).toEqual([KEY]);
  });

  it('leaves an existing file with the same bytes untouched (a retried save)', async () => {
    const body = Buffer.from('same bytes');
    await storage.put(KEY, body, 'image/jpeg');
    const before = statSync(storage.locate(KEY));
    await expect(storage.put(KEY, body, 'image/jpeg')).resolves.toEqual({ bytes: body.length, sha256: sha(body) });
    const after = statSync(storage.locate(KEY));
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(allFiles(root)).toEqual([KEY]);
  });

  it('replaces other bytes atomically: a new file renamed over the old one', async () => {
    await storage.put(KEY, Buffer.from('old recording'), 'video/mp4');
    const before = statSync(storage.locate(KEY));
    const next = Buffer.from('the re-composed recording, longer');
    await expect(storage.put(KEY, next, 'video/mp4')).resolves.toEqual({ bytes: next.length, sha256: sha(next) });
    expect(readFileSync(storage.locate(KEY))).toEqual(next);
    // A rename brings a new inode: a reader holding the old file kept reading the old bytes.
    expect(statSync(storage.locate(KEY)).ino).not.toBe(before.ino);
    expect(allFiles(root)).toEqual([KEY]);
  });

  it('repairs a truncated file a crash left under the key, even one of the same size', async () => {
    const body = Buffer.from('0123456789');
    const file = storage.locate(KEY);
    await storage.put(KEY, Buffer.from('01234'), 'image/jpeg');
    writeFileSync(file, Buffer.from('01234')); // what a crash mid-write left: half of it
    await storage.put(KEY, body, 'image/jpeg');
    expect(readFileSync(file)).toEqual(body);
    writeFileSync(file, Buffer.from('0123456780')); // same length, other bytes
    await storage.put(KEY, body, 'image/jpeg');
    expect(readFileSync(file)).toEqual(body);
  });

  it('makes the folder again when it was deleted meanwhile (its session was deleted)', async () => {
    await storage.put(KEY, Buffer.from('a'), 'image/jpeg');
    await storage.deletePrefix('sessions/s1/');
    const again = 'sessions/s1/video_frame/u1/2000.jpg';
    await storage.put(again, Buffer.from('b'), 'image/jpeg');
    expect(readFileSync(storage.locate(again)).toString()).toBe('b');
    // And when another process deleted it, unknown to this one's folder cache:
    rmSync(path.join(root, 'sessions'), { recursive: true });
    await storage.put(again, Buffer.from('c'), 'image/jpeg');
    expect(readFileSync(storage.locate(again)).toString()).toBe('c');
  });

  it('writes many new keys at once without leaving temporary files', async () => {
    const bodies = Array.from({ length: 64 }, (_, i) => Buffer.alloc(9000 + i, i));
    await Promise.all(bodies.map((b, i) => storage.put(`sessions/s2/video_frame/u${i % 4}/${i}.jpg`, b, 'image/jpeg')));
    const files = allFiles(root);
    expect(files).toHaveLength(64);
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
    bodies.forEach((b, i) => expect(readFileSync(storage.locate(`sessions/s2/video_frame/u${i % 4}/${i}.jpg`)).equals(b)).toBe(true));
  });

  it('refuses a key that escapes the root', async () => {
    await expect(storage.put('sessions/../../etc/x', Buffer.from('x'), 'text/plain')).rejects.toThrow();
    expect(allFiles(root)).toEqual([]);
  });
});
