import { readdirSync, readFileSync } from 'node:fs';
import { cpuSeconds } from './bench-utils';

/** CPU seconds of every process whose command is `comm` (e.g. all Postgres backends). */
export function cpuSecondsOfCommand(comm: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== comm) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/** Busy and total CPU seconds of the whole machine, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

export type CpuSnapshot = Record<string, number> & { postgres: number; redis: number; machineBusy: number; machineTotal: number };

/** CPU seconds so far of the named processes, Postgres, Redis and the whole machine. */
export function cpuSnapshot(pids: Record<string, number>): CpuSnapshot {
  const m = machineCpu();
  const own = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return { ...own, postgres: cpuSecondsOfCommand('postgres'), redis: cpuSecondsOfCommand('redis-server'), machineBusy: m.busy, machineTotal: m.total } as CpuSnapshot;
}

/** Where the machine's CPU went between two snapshots, in % of one core. */
export function cpuShares(a: CpuSnapshot, b: CpuSnapshot, elapsedS: number): Record<string, number | string> {
  const pct = (x: number) => +((x / elapsedS) * 100).toFixed(1);
  const out: Record<string, number | string> = { unit: '% of one core' };
  for (const k of Object.keys(a)) {
    if (k === 'machineBusy' || k === 'machineTotal') continue;
    out[k] = pct(b[k] - a[k]);
  }
  out.machine_busy = pct(b.machineBusy - a.machineBusy);
  out.machine_capacity = pct(b.machineTotal - a.machineTotal);
  return out;
}

/** Resident memory of a process (MB). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * CPU seconds so far of a process's threads, summed by thread name, user and kernel apart.
 * The main thread (the event loop) is reported as `main`. Node 20 leaves its helper threads
 * named `node` (libuv's file-system pool, V8's GC and compiler workers together); Node 22+
 * names the pool `libuv-worker` and V8's workers `V8 DefaultWorke`.
 */
export function threadCpu(pid: number): Record<string, { user: number; system: number }> {
  const out: Record<string, { user: number; system: number }> = {};
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const t = (out[name] ??= { user: 0, system: 0 });
      t.user += Number(fields[11]) / 100;
      t.system += Number(fields[12]) / 100;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Per thread name, % of one core between two threadCpu readings (user + kernel, and kernel alone). */
export function threadShares(a: ReturnType<typeof threadCpu>, b: ReturnType<typeof threadCpu>, elapsedS: number): Record<string, { percent: number; kernel_percent: number }> {
  const pct = (x: number) => +((x / elapsedS) * 100).toFixed(1);
  const out: Record<string, { percent: number; kernel_percent: number }> = {};
  for (const [name, t] of Object.entries(b)) {
    const before = a[name] ?? { user: 0, system: 0 };
    const user = t.user - before.user;
    const system = t.system - before.system;
    if (user + system > 0) out[name] = { percent: pct(user + system), kernel_percent: pct(system) };
  }
  return out;
}
