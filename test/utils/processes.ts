import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export interface EntrypointProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it wrote to stdout and stderr (the last 100–200 kB). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (unless it has exited already) and resolves with its exit code. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts a real entrypoint (`src/<entry>`, TypeScript transpile-only) as a child process
 * with the test env plus `env`, logging at info so tests can read its output.
 */
export function spawnEntrypoint(entry: string, env: Record<string, string> = {}): EntrypointProcess {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src', entry)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', TS_NODE_TRANSPILE_ONLY: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    pid: child.pid as number,
    output: () => out,
    exited,
    stop: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return (await exited).code;
    },
  };
}
