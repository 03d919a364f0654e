import { ChildProcess, spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import { Client } from 'pg';

/** The repository root, whether this runs from bench/ (ts-node) or dist/bench/ (built). */
export const ROOT = basename(join(__dirname, '..')) === 'dist' ? join(__dirname, '..', '..') : join(__dirname, '..');

/** Path of a compiled entrypoint (benchmarks measure the built code, as production runs it). */
export function distEntry(rel: string): string {
  return join(ROOT, 'dist', 'src', rel);
}

/** Drops and recreates a scratch database for a benchmark run. */
export async function freshDatabase(baseUrl: string, name: string): Promise<string> {
  const admin = new URL(baseUrl);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** True once GET url answers 2xx. */
export function httpOk(url: string): () => Promise<boolean> {
  return async () => (await fetch(url)).ok;
}

export interface Child {
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<number | null>;
}

/** Starts a node process and resolves once `ready()` is true (e.g. its /health/live answers). */
export async function startNode(script: string, env: Record<string, string>, ready: () => Promise<boolean>, timeoutMs = 30000, nodeArgs: string[] = []): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeArgs, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${script} did not become ready:\n${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}
