import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobName } from '../../../jobs/job-names';
import { FILE_MAX_BYTES, MediaSpill, SpilledEntry } from './media-spill';

/** The module media-spill.ts calls into (spied on to fail a write part way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeFs = require('node:fs') as typeof import('node:fs');

/** The next `times`-th append writes half its data, then fails as a full disk does (Node has written whole lines by then). */
function failAppendPartWay(times = 1): jest.SpyInstance {
  const real = nodeFs.appendFileSync;
  let calls = 0;
  return jest.spyOn(nodeFs, 'appendFileSync').mockImplementation((file, data, ...rest) => {
    calls += 1;
    if (calls < times) return real(file, data, ...rest);
    const half = typeof data === 'string' ? data.slice(0, Math.floor(data.length / 2)) : (data as Uint8Array).subarray(0, Math.floor(data.length / 2));
    real(file, half);
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  });
}

const entry = (timestamp: number): SpilledEntry => ({
  name: JobName.FrameSave,
  ids: { sessionId: 's1', rtmsStreamId: 'a' },
  item: { msgType: 15, userId: 1, timestamp, data: 'AAAA', receivedAt: 1 },
});
const timings = { heartbeatMs: 20, staleMs: 1000 };
const longAgo = new Date(Date.now() - 2 * 3_600_000);

function drain(spill: MediaSpill): number[] {
  const got: number[] = [];
  for (let f = spill.oldest(); f; f = spill.oldest()) {
    got.push(...f.entries.map((e) => e.item.timestamp));
    f.done();
  }
  return got;
}

describe('MediaSpill: files outlive their process', () => {
  let dir: string;
  const spills: MediaSpill[] = [];
  const open = (maxBytes = 1e6) => {
    const s = new MediaSpill(dir, maxBytes, timings);
    spills.push(s);
    return s;
  };
  const noop = () => undefined;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'media-spill-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    for (const s of spills.splice(0)) s.release();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("leaves a live process's files alone and takes over those of one whose heartbeat stopped", async () => {
    const live = open();
    live.watch(noop);
    live.append([entry(1)]);
    // A killed process: its heartbeat file stays, and ages.
    await fs.writeFile(path.join(dir, 'media-spill-999-lz1k2p3q-ab12cd-0.jsonl'), `${JSON.stringify(entry(2))}\n${JSON.stringify(entry(3))}\n`);
    await fs.writeFile(path.join(dir, 'media-spill-999-lz1k2p3q-ab12cd.alive'), '');
    const other = open();
    other.watch(noop);
    expect(other.adoptOrphans()).toEqual({ files: 0, bytes: 0 });

    await fs.utimes(path.join(dir, 'media-spill-999-lz1k2p3q-ab12cd.alive'), longAgo, longAgo);
    const took = other.adoptOrphans();
    expect(took.files).toBe(1);
    expect(took.bytes).toBeGreaterThan(0);
    expect(other.bytes).toBe(took.bytes);
    expect(drain(other)).toEqual([2, 3]);
    // The dead owner's heartbeat is cleared away with its files; the live one's files stay its own.
    expect((await fs.readdir(dir)).filter((f) => f.includes('999-'))).toEqual([]);
    expect(drain(live)).toEqual([1]);
  });

  it('takes over the files of a process that shut down at once (its heartbeat is dated back)', () => {
    const owner = open();
    owner.watch(noop);
    owner.append([entry(1)]);
    owner.release();
    const next = open();
    expect(next.adoptOrphans().files).toBe(1);
    expect(drain(next)).toEqual([1]);
  });

  it('files of an older version (no heartbeat) are taken over only once nothing has written to them for an hour (it may still be running)', async () => {
    const legacy = path.join(dir, 'media-spill-4242-lz1k2p3q-0.jsonl');
    await fs.writeFile(legacy, JSON.stringify(entry(7)) + '\n');
    const spill = open();
    expect(spill.adoptOrphans().files).toBe(0);
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    await fs.utimes(legacy, tenMinutesAgo, tenMinutesAgo); // far past staleMs, not past the hour
    expect(spill.adoptOrphans().files).toBe(0);
    await fs.utimes(legacy, longAgo, longAgo);
    expect(spill.adoptOrphans().files).toBe(1);
    expect(drain(spill)).toEqual([7]);
  });

  it('two processes looking one after the other take each orphan once, oldest owner first, ahead of their own files', async () => {
    await fs.writeFile(path.join(dir, 'media-spill-1-b-0.jsonl'), JSON.stringify(entry(20)) + '\n');
    await fs.writeFile(path.join(dir, 'media-spill-1-a-0.jsonl'), JSON.stringify(entry(10)) + '\n');
    await fs.writeFile(path.join(dir, 'media-spill-1-a-1.jsonl'), JSON.stringify(entry(11)) + '\n');
    for (const f of await fs.readdir(dir)) await fs.utimes(path.join(dir, f), longAgo, longAgo);
    const one = open();
    const two = open();
    one.watch(noop);
    one.append([entry(99)]);
    two.watch(noop);
    // one took them when it started watching; two, starting just after, finds none.
    expect(one.bytes).toBeGreaterThan(0);
    expect(two.bytes).toBe(0);
    expect(two.adoptOrphans().files).toBe(0);
    expect(drain(one)).toEqual([10, 11, 20, 99]);
    expect(drain(two)).toEqual([]);
  });

  it('a line cut short by a kill is counted as unreadable; the rest of the file is read', async () => {
    const file = path.join(dir, 'media-spill-1-a-0.jsonl');
    await fs.writeFile(file, `${JSON.stringify(entry(1))}\n${JSON.stringify(entry(2))}\n${JSON.stringify(entry(3)).slice(0, 20)}`);
    await fs.utimes(file, longAgo, longAgo);
    const spill = open();
    spill.adoptOrphans();
    const f = spill.oldest()!;
    expect(f.adopted).toBe(true);
    expect(f.unreadable).toBe(1);
    expect(f.entries.map((e) => e.item.timestamp)).toEqual([1, 2]);
  });

  it('a file that cannot be read is set aside as *.bad and reported failed; the next file is read as usual', async () => {
    const bad = path.join(dir, 'media-spill-1-a-0.jsonl');
    await fs.mkdir(bad); // reading it fails (EISDIR), as an unreadable disk block would
    const good = path.join(dir, 'media-spill-1-a-1.jsonl');
    await fs.writeFile(good, JSON.stringify(entry(4)) + '\n');
    for (const f of [bad, good]) await fs.utimes(f, longAgo, longAgo);
    const spill = open();
    expect(spill.adoptOrphans().files).toBe(2);
    const first = spill.oldest()!;
    expect(first.failed).toMatch(/EISDIR/);
    expect(first.entries).toEqual([]);
    expect(drain(spill)).toEqual([4]);
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.bad'))).toHaveLength(1);
    expect(spill.empty).toBe(true);
  });

  it('a file last written more than a day ago comes back expired', async () => {
    const file = path.join(dir, 'media-spill-1-a-0.jsonl');
    await fs.writeFile(file, JSON.stringify(entry(1)) + '\n');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await fs.utimes(file, twoDaysAgo, twoDaysAgo);
    const spill = open();
    spill.adoptOrphans();
    const f = spill.oldest()!;
    expect(f.expired).toBe(true);
    expect(f.entries).toHaveLength(1);
  });

  it('an append that cannot be written (the directory gone, a full disk) returns false instead of throwing', async () => {
    const spill = open();
    await fs.rm(dir, { recursive: true, force: true });
    expect(spill.append([entry(1)])).toBe(false);
    expect(spill.bytes).toBe(0);
  });

  it('a running spill finds orphans on its own with each heartbeat', async () => {
    const spill = open();
    const heard: number[] = [];
    spill.watch((files) => heard.push(files));
    const file = path.join(dir, 'media-spill-1-a-0.jsonl');
    await fs.writeFile(file, JSON.stringify(entry(5)) + '\n');
    await fs.utimes(file, longAgo, longAgo);
    const deadline = Date.now() + 5000;
    while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(heard).toEqual([1]);
    expect(drain(spill)).toEqual([5]);
  });

  it('writes nothing while it holds no file (zero retention: no spool file at all); once drained and released, it leaves nothing behind', async () => {
    const spill = open();
    spill.watch(noop);
    expect(await fs.readdir(dir)).toEqual([]);
    spill.append([entry(1)]);
    expect((await fs.readdir(dir)).sort()).toEqual([`media-spill-${spill.owner}-0.jsonl`, `media-spill-${spill.owner}.alive`]);
    expect(drain(spill)).toEqual([1]);
    spill.release();
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it('keeps beating: its own heartbeat file stays fresh while it runs', async () => {
    const spill = open();
    spill.watch(noop);
    spill.append([entry(1)]);
    const alive = path.join(dir, `media-spill-${spill.owner}.alive`);
    await fs.utimes(alive, longAgo, longAgo);
    const deadline = Date.now() + 5000;
    while ((await fs.stat(alive)).mtimeMs < Date.now() - 60_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect((await fs.stat(alive)).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
  });

  const sizes = async () => {
    const out: number[] = [];
    for (const f of (await fs.readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort()) out.push((await fs.stat(path.join(dir, f))).size);
    return out;
  };

  it('an append that fails part way (a full disk) is taken back whole: the file it added to is cut back, nothing of it is read back', async () => {
    const spill = open();
    expect(spill.append([entry(1), entry(2)])).toBe(true);
    const before = await sizes();
    const bytes = spill.bytes;
    failAppendPartWay();
    expect(spill.append([3, 4, 5, 6, 7, 8].map(entry))).toBe(false);
    jest.restoreAllMocks();
    expect(await sizes()).toEqual(before);
    expect(spill.bytes).toBe(bytes);
    expect(spill.append([entry(9)])).toBe(true); // the file is still usable
    expect(drain(spill)).toEqual([1, 2, 9]);
  });

  it('an append that fails part way into a file of its own removes that file', async () => {
    const spill = open();
    failAppendPartWay();
    expect(spill.append([1, 2, 3, 4].map(entry))).toBe(false);
    jest.restoreAllMocks();
    expect(await sizes()).toEqual([]);
    expect(spill.bytes).toBe(0);
    expect(spill.empty).toBe(true);
  });

  const big = (timestamp: number): SpilledEntry => ({ ...entry(timestamp), item: { ...entry(timestamp).item, data: 'B'.repeat(64 * 1024) } });

  it('one large append (a relieve or a shutdown: half or all of the memory budget) is spread over files of FILE_MAX_BYTES, read back in order', async () => {
    const spill = open(100 * 1024 * 1024);
    const entries = Array.from({ length: 320 }, (_, i) => big(i)); // ~20 MiB
    const line = Buffer.byteLength(JSON.stringify(entries[0]) + '\n');
    expect(spill.append(entries)).toBe(true);
    expect(spill.append([big(320)])).toBe(true);
    const files = await sizes();
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const size of files) expect(size).toBeLessThanOrEqual(FILE_MAX_BYTES + line);
    expect(files.reduce((a, n) => a + n, 0)).toBe(spill.bytes);
    expect(drain(spill)).toEqual(Array.from({ length: 321 }, (_, i) => i));
  });

  it('a large append that fails in its second file takes back the first one too (all or nothing)', async () => {
    const spill = open(100 * 1024 * 1024);
    expect(spill.append([entry(1)])).toBe(true);
    const before = await sizes();
    failAppendPartWay(2);
    expect(spill.append(Array.from({ length: 200 }, (_, i) => big(100 + i)))).toBe(false);
    jest.restoreAllMocks();
    expect(await sizes()).toEqual(before);
    expect(drain(spill)).toEqual([1]);
  });

  it("an own file that cannot be read comes back failed with what was appended to it, by stream and job", async () => {
    const spill = open();
    spill.append([entry(1), entry(2), { ...entry(3), ids: { sessionId: 's2', rtmsStreamId: 'b' }, name: JobName.ChatSave }]);
    const own = path.join(dir, `media-spill-${spill.owner}-0.jsonl`);
    await fs.rm(own);
    await fs.mkdir(own); // reading it fails (EISDIR), as an unreadable disk block would
    const f = spill.oldest()!;
    expect(f.failed).toMatch(/EISDIR/);
    expect(f.lost).toEqual([
      { ids: { sessionId: 's1', rtmsStreamId: 'a' }, name: JobName.FrameSave, n: 2 },
      { ids: { sessionId: 's2', rtmsStreamId: 'b' }, name: JobName.ChatSave, n: 1 },
    ]);
  });
});
