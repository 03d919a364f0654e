import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { S3MediaStorage, S3StorageOptions } from './s3-media-storage';
import { isStorageUnavailable } from './storage-errors';

/** Descriptors of this process open on `file`. */
function fdsOn(file: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(file);
    } catch {
      return false;
    }
  }).length;
}

/** Settles with what `p` did, or 'pending' after `ms` (so a hang fails the test instead of timing it out). */
function within<T>(p: Promise<T>, ms: number): Promise<{ ok: T } | { err: Error } | 'pending'> {
  return Promise.race([p.then((ok) => ({ ok }), (err: Error) => ({ err })), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms).unref())]);
}

/** An S3-compatible endpoint on loopback answering every request with `answer` (or never). */
async function endpoint(answer: 'slow_down' | 'never'): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const reply = (res: http.ServerResponse) => {
    if (answer === 'never') return;
    res.statusCode = 503;
    res.setHeader('content-type', 'application/xml');
    res.end('<Error><Code>SlowDown</Code><Message>slow down</Message></Error>');
  };
  const server = http.createServer((req, res) => {
    req.resume();
    reply(res);
  });
  server.on('checkContinue', (_req, res) => reply(res));
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('S3MediaStorage: failures end the request and free what it held', () => {
  let dir: string;
  let file: string;
  const opts = (url: string, extra: Partial<S3StorageOptions> = {}): S3StorageOptions => ({
    bucket: 'b',
    prefix: 'hub',
    region: 'us-east-1',
    endpoint: url,
    forcePathStyle: true,
    accessKeyId: 'a',
    secretAccessKey: 'b',
    ...extra,
  });

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 's3-driver-'));
    file = path.join(dir, 'recording.mp4');
    writeFileSync(file, Buffer.alloc(3 * 1024 * 1024, 1));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('putFile closes the file when S3 refuses the PUT (no descriptor keeps a deleted recording allocated)', async () => {
    const s3 = await endpoint('slow_down');
    const storage = new S3MediaStorage(opts(s3.url));
    try {
      for (let i = 0; i < 3; i++) await expect(storage.putFile('s/recording/recording.mp4', file, 'video/mp4')).rejects.toMatchObject({ name: 'SlowDown' });
      await new Promise((r) => setTimeout(r, 100));
      expect(fdsOn(file)).toBe(0);
    } finally {
      await storage.close();
      await s3.close();
    }
  });

  it('a stalled endpoint fails the request after the socket timeout, as storage unavailable (retried), instead of hanging', async () => {
    const s3 = await endpoint('never');
    const storage = new S3MediaStorage(opts(s3.url, { socketTimeoutMs: 300, connectTimeoutMs: 300 }));
    try {
      const got = await within(storage.get('x/y.wav'), 15_000);
      expect(got).not.toBe('pending');
      const { err } = got as { err: Error };
      expect(err.name).toBe('TimeoutError');
      expect(isStorageUnavailable(err)).toBe(true);
    } finally {
      await storage.close();
      await s3.close();
    }
  });

  it('putFile stops when its signal aborts (SIGTERM during an upload) and closes the file', async () => {
    const s3 = await endpoint('never');
    const storage = new S3MediaStorage(opts(s3.url));
    try {
      const abort = new AbortController();
      const put = storage.putFile('s/recording/recording.mp4', file, 'video/mp4', { signal: abort.signal });
      setTimeout(() => abort.abort(), 200);
      const got = await within(put, 5_000);
      expect(got).not.toBe('pending');
      expect((got as { err: Error }).err.name).toBe('AbortError');
      await new Promise((r) => setTimeout(r, 100));
      expect(fdsOn(file)).toBe(0);
    } finally {
      await storage.close();
      await s3.close();
    }
  });

  it('sets the defaults when the options do not', async () => {
    const storage = new S3MediaStorage(opts('http://127.0.0.1:1'));
    const handler = (storage as unknown as { client: { config: { requestHandler: { configProvider: Promise<Record<string, unknown>> } } } }).client.config.requestHandler;
    expect(await handler.configProvider).toMatchObject({ connectionTimeout: 10_000, socketTimeout: 30_000 });
    await storage.close();
  });
});
