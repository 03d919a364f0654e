import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readSpool, SpoolFiles } from './spool-files';

describe('SpoolFiles', () => {
  let dir: string;
  let files: SpoolFiles;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'spool-files-'));
    files = new SpoolFiles(dir);
  });
  afterEach(async () => {
    await files.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends parts back to back and says where each starts, across flushes', async () => {
    const a = Buffer.from('aaaa');
    const b = Buffer.from('bb');
    const c = Buffer.from('cccccc');
    const first = await files.append([a, b]);
    const second = await files.append([c]);
    expect(first.offsets).toEqual([0, 4]);
    expect(second).toEqual({ file: first.file, offsets: [6] });
    expect(readFileSync(path.join(dir, first.file)).toString()).toBe('aaaabbcccccc');
    await expect(readSpool(dir, first.file, [{ offset: 4, length: 2 }, { offset: 6, length: 6 }, { offset: 10, length: 5 }])).resolves.toEqual([b, c, null]);
  });

  it('writes a flush of more parts than one writev takes (IOV_MAX is 1024) completely and in order', async () => {
    const parts = Array.from({ length: 2500 }, (_, i) => Buffer.alloc(640, i % 251));
    const { file, offsets } = await files.append(parts);
    expect(offsets[2499]).toBe(2499 * 640);
    const data = readFileSync(path.join(dir, file));
    expect(data.length).toBe(2500 * 640);
    for (const i of [0, 1023, 1024, 2048, 2499]) expect(data.subarray(offsets[i], offsets[i] + 640).equals(parts[i])).toBe(true);
  });

  it('runs concurrent flushes into disjoint ranges', async () => {
    const writes = Array.from({ length: 8 }, (_, i) => files.append([Buffer.alloc(1000 + i, 65 + i)]));
    const results = await Promise.all(writes);
    const data = readFileSync(path.join(dir, results[0].file));
    results.forEach(({ offsets }, i) => expect(data.subarray(offsets[0], offsets[0] + 1000 + i).equals(Buffer.alloc(1000 + i, 65 + i))).toBe(true));
    expect(data.length).toBe(results.reduce((n, _, i) => n + 1000 + i, 0));
  });
});
