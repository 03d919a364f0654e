import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MetricsService } from '../../../common/metrics/metrics.service';
import type { JobProducer } from '../../../jobs/job-producer.service';
import { waitFor } from '../../../../test/utils/wait-for';
import { ComposeMetrics } from './compose-metrics';
import { ComposeWorkDirs, type ComposeWorkDir } from './compose-work-dirs';

const timings = { heartbeatMs: 20, staleMs: 60_000, sweepMs: 60_000 };
const longAgo = new Date(Date.now() - 3_600_000);

const exists = (p: string) =>
  fs.lstat(p).then(
    () => true,
    () => false,
  );

describe('ComposeWorkDirs: compose folders left by killed workers are swept, live ones kept', () => {
  let root: string;
  let workDir: string;
  let outside: string;
  let metrics: MetricsService;
  const swept: ComposeWorkDirs[] = [];
  const leases: ComposeWorkDir[] = [];

  const open = (dir = workDir) => {
    const w = new ComposeWorkDirs(dir, new ComposeMetrics(metrics), timings);
    swept.push(w);
    return w;
  };
  const counter = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values.reduce((a, v) => a + v.value, 0);
  /** A folder as a compose worker SIGKILLed an hour ago left it: media inside, not touched since. */
  const crashed = async (name: string, bytes = 1000) => {
    const dir = path.join(workDir, name);
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'v-00000.h264'), Buffer.alloc(bytes));
    await fs.utimes(dir, longAgo, longAgo);
    return dir;
  };

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'compose-work-dirs-'));
    workDir = path.join(root, 'work');
    outside = path.join(root, 'outside');
    await fs.mkdir(workDir);
    await fs.mkdir(outside);
    metrics = new MetricsService({ allQueues: () => [] } as unknown as JobProducer);
  });
  afterEach(async () => {
    for (const w of swept.splice(0)) w.stop();
    for (const l of leases.splice(0)) await l.release();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('removes a folder whose heartbeat stopped long ago, and counts it with its bytes', async () => {
    const dead = await crashed('rtms-compose-Ab3dE9', 4096);
    const result = await open().sweep();
    expect(result).toEqual({ dirs: 1, bytes: 4096 });
    expect(await exists(dead)).toBe(false);
    expect(await counter('rtms_hub_compose_work_dirs_removed_total')).toBe(1);
    expect(await counter('rtms_hub_compose_work_dir_removed_bytes_total')).toBe(4096);
  });

  it('sweeps at start, without being asked', async () => {
    const dead = await crashed('rtms-compose-xYz012');
    open().start();
    await waitFor(async () => !(await exists(dead)), { timeoutMs: 5000, what: 'the stale folder removed at start' });
  });

  it("keeps a live compose's folder, whether it is this process's or another's", async () => {
    // Another process's compose: made a moment ago (mkdtemp's mtime), its heartbeat fresh.
    const other = path.join(workDir, 'rtms-compose-Live01');
    await fs.mkdir(other);
    await fs.writeFile(path.join(other, 'recording.mp4'), 'partial');
    // This process's own compose, even with an mtime that looks stale (a clock step, a slow disk).
    const lease = await open().create();
    leases.push(lease);
    await fs.utimes(lease.path, longAgo, longAgo);

    const result = await swept[0].sweep();
    expect(result).toEqual({ dirs: 0, bytes: 0 });
    expect(await exists(path.join(other, 'recording.mp4'))).toBe(true);
    expect(await exists(lease.path)).toBe(true);
  });

  it('a running compose keeps its heartbeat fresh, so another worker sharing the work dir keeps it', async () => {
    const lease = await open().create();
    leases.push(lease);
    expect(path.dirname(lease.path)).toBe(workDir);
    expect(path.basename(lease.path)).toMatch(/^rtms-compose-[A-Za-z0-9]{6}$/);
    // Dated back as if it had not beaten for an hour: its heartbeat brings it back to now.
    await fs.utimes(lease.path, longAgo, longAgo);
    await waitFor(async () => Date.now() - (await fs.stat(lease.path)).mtimeMs < 10_000, { timeoutMs: 5000, what: 'the heartbeat to touch the folder' });
    expect(await open().sweep()).toEqual({ dirs: 0, bytes: 0 });
    expect(await exists(lease.path)).toBe(true);

    // Released: removed, and its heartbeat stops (nothing re-creates or touches it).
    await lease.release();
    expect(await exists(lease.path)).toBe(false);
  });

  it('a folder its compose could not remove is swept once its heartbeat has stopped', async () => {
    const w = open();
    const lease = await w.create();
    const stuck = lease.path;
    // release() fails to remove it (simulated: removed, then put back as the failure would leave it).
    await lease.release();
    await fs.mkdir(stuck);
    await fs.utimes(stuck, longAgo, longAgo);
    expect((await w.sweep()).dirs).toBe(1);
    expect(await exists(stuck)).toBe(false);
  });

  it('leaves alone everything that is not a compose folder: other names, files, symlinks, and what links point at', async () => {
    const stale = async (p: string) => fs.utimes(p, longAgo, longAgo);
    // Names that are not mkdtemp's from our prefix (a test's root, another tool's folder).
    await fs.mkdir(path.join(workDir, 'rtms-compose-e2e-Ab12Cd'));
    await fs.mkdir(path.join(workDir, 'rtms-composer-Ab12Cd'));
    await fs.mkdir(path.join(workDir, 'other'));
    // A file named like a compose folder.
    await fs.writeFile(path.join(workDir, 'rtms-compose-file01'), 'x');
    // A symlink named like a compose folder, to a stale folder outside the work dir.
    const target = path.join(outside, 'precious');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'keep.txt'), 'keep');
    await fs.symlink(target, path.join(workDir, 'rtms-compose-Link01'));
    for (const n of ['rtms-compose-e2e-Ab12Cd', 'rtms-composer-Ab12Cd', 'other', 'rtms-compose-file01']) await stale(path.join(workDir, n));
    await stale(target);
    await fs.lutimes(path.join(workDir, 'rtms-compose-Link01'), longAgo, longAgo);
    // A stale compose folder with a link out of the work dir inside: the link goes, not what it points at.
    const dead = await crashed('rtms-compose-Dead01');
    await fs.symlink(target, path.join(dead, 'escape'));
    await fs.utimes(dead, longAgo, longAgo);

    const result = await open().sweep();
    expect(result.dirs).toBe(1);
    expect(await exists(dead)).toBe(false);
    expect((await fs.readdir(workDir)).sort()).toEqual(['other', 'rtms-compose-Link01', 'rtms-compose-e2e-Ab12Cd', 'rtms-compose-file01', 'rtms-composer-Ab12Cd']);
    expect(await fs.readFile(path.join(target, 'keep.txt'), 'utf8')).toBe('keep');
  });

  it('a work dir that does not exist yet is nothing to sweep', async () => {
    await expect(open(path.join(root, 'missing')).sweep()).resolves.toEqual({ dirs: 0, bytes: 0 });
  });
});
