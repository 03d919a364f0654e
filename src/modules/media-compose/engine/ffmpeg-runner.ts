import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

/** Where the engine finds ffmpeg and ffprobe (FFMPEG_PATH / FFPROBE_PATH; default: on PATH). */
export interface FfmpegPaths {
  ffmpegPath: string;
  ffprobePath: string;
}

export const DEFAULT_FFMPEG_PATHS: FfmpegPaths = { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' };

/** A tool exited with a failure; the message ends with the last lines it wrote to stderr. */
export class FfmpegError extends Error {
  constructor(
    readonly tool: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
    readonly signal: NodeJS.Signals | null = null,
  ) {
    super(`${tool} failed (${exitCode !== null ? `exit code ${exitCode}` : `signal ${signal}`})${stderrTail ? `: ${lastLines(stderrTail, 6)}` : ''}`);
    this.name = 'FfmpegError';
  }
}

/** The binary could not be started at all (missing, not executable). */
export class FfmpegNotFoundError extends Error {
  constructor(
    readonly tool: string,
    cause: Error,
  ) {
    super(`${tool} could not be started (${(cause as NodeJS.ErrnoException).code ?? cause.message}): install ffmpeg or set FFMPEG_PATH / FFPROBE_PATH`);
    this.name = 'FfmpegNotFoundError';
  }
}

/** A tool ran past its deadline and was killed: a hung run (a stalled disk, a stuck pipe), worth another attempt. */
export class FfmpegTimeoutError extends Error {
  constructor(
    readonly tool: string,
    readonly timeoutMs: number,
    readonly stderrTail: string,
  ) {
    super(`${tool} did not finish within ${Math.round(timeoutMs / 1000)} s and was killed${stderrTail ? `: ${lastLines(stderrTail, 6)}` : ''}`);
    this.name = 'FfmpegTimeoutError';
  }
}

export interface ToolRun {
  args: string[];
  /** Data to stream into the child: fd 3 is `pipe:3` for ffmpeg, and so on. Written with backpressure. */
  inputs?: { fd: number; data: AsyncIterable<Buffer> }[];
  /** Collect stdout (ffprobe's JSON, an encoded picture); otherwise it is discarded. */
  captureStdout?: boolean;
  /** Aborting kills the child (SIGKILL) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Past this (ms) the child is killed (SIGKILL) and the run rejects with FfmpegTimeoutError. */
  timeoutMs?: number;
}

export interface ToolResult {
  stdout: Buffer;
  stderrTail: string;
}

/** Bytes of stderr kept for error messages and the -benchmark line. */
const STDERR_TAIL_BYTES = 16 * 1024;

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

async function pump(data: AsyncIterable<Buffer>, sink: Writable): Promise<void> {
  // Once the child has exited (or closed its end), writes fail with EPIPE: the exit code says why.
  let closed = false;
  sink.on('error', () => (closed = true));
  sink.on('close', () => (closed = true));
  for await (const chunk of data) {
    if (closed) return;
    if (!sink.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          sink.off('drain', done);
          sink.off('close', done);
          resolve();
        };
        sink.on('drain', done);
        sink.on('close', done);
      });
    }
  }
  if (!closed) sink.end();
}

/**
 * Runs ffmpeg or ffprobe with an argument array (never through a shell: file names go to
 * the tool as they are), streams the inputs into extra pipes, and resolves when it exits
 * with 0. Failures reject with FfmpegError carrying the tail of stderr.
 */
export function runTool(binary: string, run: ToolRun): Promise<ToolResult> {
  const { signal } = run;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const extraFds = Math.max(2, ...(run.inputs ?? []).map((i) => i.fd));
  const stdio: ('ignore' | 'pipe')[] = ['ignore', run.captureStdout ? 'pipe' : 'ignore', 'pipe'];
  for (let fd = 3; fd <= extraFds; fd++) stdio.push((run.inputs ?? []).some((i) => i.fd === fd) ? 'pipe' : 'ignore');
  return new Promise<ToolResult>((resolve, reject) => {
    const child = spawn(binary, run.args, { stdio });
    const stdout: Buffer[] = [];
    let stderr = '';
    let settled = false;
    let inputError: unknown = null;
    let deadline: NodeJS.Timeout | undefined;
    const finish = (error: unknown, result?: ToolResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(result as ToolResult);
    };
    const onAbort = () => {
      child.kill('SIGKILL');
      finish(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (run.timeoutMs !== undefined) {
      const timeoutMs = run.timeoutMs;
      deadline = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new FfmpegTimeoutError(binary, timeoutMs, stderr.slice(-STDERR_TAIL_BYTES)));
      }, timeoutMs);
    }
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 2 * STDERR_TAIL_BYTES) stderr = stderr.slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (error) => finish((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EACCES' ? new FfmpegNotFoundError(binary, error) : error));
    const sinks = (run.inputs ?? []).map((input) => {
      const sink = child.stdio[input.fd] as Writable;
      pump(input.data, sink).catch((error: unknown) => {
        // The input could not be produced (a source file vanished…): stop the tool, report that.
        inputError = error;
        sink.destroy();
        child.kill('SIGKILL');
      });
      return sink;
    });
    // 'close' waits for every pipe: our ends of the input pipes must not outlive the child.
    child.on('exit', () => sinks.forEach((sink) => sink.destroy()));
    child.on('close', (code, killSignal) => {
      const tail = stderr.slice(-STDERR_TAIL_BYTES);
      if (inputError) finish(inputError);
      else if (code === 0) finish(null, { stdout: Buffer.concat(stdout), stderrTail: tail });
      else finish(new FfmpegError(binary, code, tail, killSignal));
    });
  });
}

/**
 * CPU time (user + system, all threads) ffmpeg reports for itself with -benchmark
 * ("bench: utime=1.234s stime=0.056s rtime=…"), read from its own getrusage at exit —
 * exact, where polling /proc from outside would miss the last moments before exit.
 */
export function parseBenchmarkCpuMs(stderr: string): number | null {
  const match = /bench: utime=([\d.]+)s stime=([\d.]+)s/.exec(stderr);
  return match ? Math.round((Number(match[1]) + Number(match[2])) * 1000) : null;
}
