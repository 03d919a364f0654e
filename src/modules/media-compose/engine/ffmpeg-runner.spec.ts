import { FfmpegError, FfmpegNotFoundError, FfmpegTimeoutError, parseBenchmarkCpuMs, runTool } from './ffmpeg-runner';

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

describe('runTool', () => {
  it('streams inputs into extra pipes and collects stdout', async () => {
    // sh stands in for ffmpeg: it copies what arrives on fd 3 and fd 4 to stdout.
    const result = await runTool('sh', { args: ['-c', 'cat <&3; cat <&4'], captureStdout: true, inputs: [{ fd: 3, data: chunks('abc', 'def') }, { fd: 4, data: chunks('xyz') }] });
    expect(result.stdout.toString()).toBe('abcdefxyz');
  });

  it('rejects with the exit code and the end of stderr when the tool fails', async () => {
    const failure = runTool('sh', { args: ['-c', 'echo first >&2; echo "Invalid data found" >&2; exit 3'] });
    await expect(failure).rejects.toBeInstanceOf(FfmpegError);
    await expect(failure).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining('exit code 3): first | Invalid data found') });
  });

  it('kills the tool when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = runTool('sleep', { args: ['30'], signal: controller.signal });
    setTimeout(() => controller.abort(new Error('compose cancelled')), 50);
    await expect(run).rejects.toThrow('compose cancelled');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('kills a tool that runs past its deadline and says so', async () => {
    const started = Date.now();
    const run = runTool('sh', { args: ['-c', 'echo "still working" >&2; exec sleep 30'], timeoutMs: 200 });
    await expect(run).rejects.toBeInstanceOf(FfmpegTimeoutError);
    await expect(run).rejects.toThrow('sh did not finish within 0 s and was killed: still working');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('clears the deadline of a tool that finishes in time', async () => {
    await expect(runTool('sh', { args: ['-c', 'exit 0'], timeoutMs: 60_000 })).resolves.toMatchObject({ stderrTail: '' });
  });

  it('says how to fix a missing binary', async () => {
    const run = runTool('/nonexistent/ffmpeg', { args: ['-version'] });
    await expect(run).rejects.toBeInstanceOf(FfmpegNotFoundError);
    await expect(run).rejects.toThrow('/nonexistent/ffmpeg could not be started (ENOENT): install ffmpeg or set FFMPEG_PATH / FFPROBE_PATH');
  });

  it('stops the tool and reports the input’s error when an input cannot be produced', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('x');
      throw new Error('segment file vanished');
    }
    await expect(runTool('sh', { args: ['-c', 'cat <&3 >/dev/null; exec sleep 30'], inputs: [{ fd: 3, data: broken() }] })).rejects.toThrow('segment file vanished');
  });
});

describe('parseBenchmarkCpuMs', () => {
  it('adds user and system time from ffmpeg’s -benchmark line', () => {
    expect(parseBenchmarkCpuMs('frame=1\nbench: utime=1.250s stime=0.031s rtime=0.900s\nbench: maxrss=1kB')).toBe(1281);
    expect(parseBenchmarkCpuMs('no benchmark here')).toBeNull();
  });
});
