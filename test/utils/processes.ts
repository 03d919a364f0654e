import { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** Source trees `npm run build` compiles to dist/ (tsconfig.build.json), and the assets nest-cli.json copies. */
const BUILT_TREES = ['src', 'migrations'];
const isBuiltSource = (file: string) => (file.endsWith('.ts') && !file.endsWith('.spec.ts') && !file.endsWith('.spec-helper.ts') && !file.endsWith('.d.ts')) || /\.(h264|css)$|console\/assets\/.*\.js$/.test(file);

function* filesUnder(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

let distIsFresh: boolean | undefined;
/**
 * True when dist/ holds a build of every current source file (each output at least as new as
 * its source): CI builds before it tests. A stale or missing build is never used.
 */
function builtIsFresh(): boolean {
  if (distIsFresh !== undefined) return distIsFresh;
  distIsFresh = BUILT_TREES.every((tree) =>
    [...filesUnder(join(ROOT, tree))].filter((f) => isBuiltSource(relative(ROOT, f))).every((source) => {
      const rel = relative(ROOT, source);
      const built = join(ROOT, 'dist', rel.endsWith('.ts') ? rel.replace(/\.ts$/, '.js') : rel);
      try {
        return statSync(built).mtimeMs >= statSync(source).mtimeMs;
      } catch {
        return false;
      }
    }),
  );
  return distIsFresh;
}

/**
 * Node arguments that run a TypeScript file of the repo (`src/…ts`): its compiled JavaScript
 * when dist/ is a fresh build (boots in ≈ 2 s), else the source through ts-node,
 * transpile-only (≈ 6.5 s, more on a loaded machine: the e2e suite starts dozens of these).
 */
export function nodeArgsFor(script: string): string[] {
  if (builtIsFresh()) return [join(ROOT, 'dist', script.replace(/\.ts$/, '.js'))];
  return ['-r', 'ts-node/register/transpile-only', join(ROOT, script)];
}

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
 * Starts a real entrypoint (`src/<entry>`, built or through ts-node: nodeArgsFor) as a child process
 * with the test env plus `env`, logging at info so tests can read its output.
 */
export function spawnEntrypoint(entry: string, env: Record<string, string> = {}): EntrypointProcess {
  const child = spawn(process.execPath, nodeArgsFor(join('src', entry)), {
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
