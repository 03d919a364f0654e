import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import S3rver from '@20minutes/s3rver';
import { LocalMediaStorage } from '../src/modules/media-ingest/storage/local-media-storage';
import type { MediaStorage } from '../src/modules/media-ingest/storage/media-storage';
import { S3MediaStorage } from '../src/modules/media-ingest/storage/s3-media-storage';

/** putFile (a composed recording, streamed from disk) on both drivers: the bytes land whole, replace atomically, and read back with Range. */
describe('MediaStorage.putFile (local and S3)', () => {
  let root: string;
  let s3: S3rver;
  let drivers: Array<[string, MediaStorage]>;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'putfile-'));
    s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(root, 's3'), configureBuckets: [{ name: 'putfile-test' }], allowMismatchedSignatures: true });
    const addr = await s3.run();
    const remote = new S3MediaStorage({ bucket: 'putfile-test', prefix: 'hub', region: 'us-east-1', endpoint: `http://127.0.0.1:${addr.port}`, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    drivers = [
      ['local', new LocalMediaStorage(path.join(root, 'local'))],
      ['s3', remote],
    ];
  });
  afterAll(async () => {
    for (const [, d] of drivers ?? []) await d.close?.();
    await s3?.close();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it.each(['local', 's3'])('%s: streams a file in, replaces it under the same key, serves ranges of it', async (name) => {
    const storage = drivers.find(([n]) => n === name)![1];
    const key = 'session-1/recording/recording.mp4';
    const first = path.join(root, `${name}-a.bin`);
    const second = path.join(root, `${name}-b.bin`);
    const a = randomBytes(3 * 1024 * 1024 + 17);
    const b = randomBytes(1024 * 1024);
    await fs.writeFile(first, a);
    await fs.writeFile(second, b);

    expect(await storage.putFile(key, first, 'video/mp4')).toEqual({ bytes: a.length, sha256: createHash('sha256').update(a).digest('hex') });
    expect(await storage.stat(key)).toEqual({ size: a.length });
    // Composing again replaces it.
    expect(await storage.putFile(key, second, 'video/mp4')).toEqual({ bytes: b.length, sha256: createHash('sha256').update(b).digest('hex') });
    const whole = await storage.get(key);
    const chunks: Buffer[] = [];
    for await (const c of whole.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(b)).toBe(true);
    const part = await storage.get(key, { start: 100, end: 199 });
    const partChunks: Buffer[] = [];
    for await (const c of part.stream) partChunks.push(c as Buffer);
    expect(Buffer.concat(partChunks).equals(b.subarray(100, 200))).toBe(true);
    expect(part).toMatchObject({ size: b.length, length: 100 });
  });
});
