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
