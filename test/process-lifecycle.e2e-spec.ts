import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './utils/wait-for';

const ROOT = join(__dirname, '..');

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a real entrypoint (TypeScript, transpile-only) with the test env plus overrides. */
function start(entry: string, env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src', entry)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

describe('process lifecycle (real entrypoints)', () => {
  it('WORKER_QUEUES with an unknown queue stops boot naming it', async () => {
    const run = start('main.worker.ts', { WORKER_QUEUES: 'zoom-events,nope' });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain('WORKER_QUEUES names unknown queue(s): nope');
  });

  it('a bad environment value stops boot naming the variable', async () => {
    const run = start('main.api.ts', { PORT: 'eighty', REDIS_URL: 'http://wrong' });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain('PORT');
    expect(run.output()).toContain('REDIS_URL must be a redis:// or rediss:// URL');
  });

  it('a missing required value stops boot naming the variable', async () => {
    const run = start('main.api.ts', { DATABASE_URL: '' });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain('DATABASE_URL');
  });

  it('SIGTERM drains a worker and exits 0', async () => {
    const run = start('main.worker.ts', { WORKER_QUEUES: 'zoom-events', PORT: '0' });
    try {
      await waitFor(() => run.output().includes('listening on port'), { timeoutMs: 30000, what: 'worker to boot' });
      run.child.kill('SIGTERM');
      const result = await run.exited;
      if (result.code !== 0) console.error(run.output().slice(-4000));
      expect(result).toEqual({ code: 0, signal: null });
      expect(run.output()).toContain('stopped cleanly');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
