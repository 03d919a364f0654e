import { RateLimitedLog } from './rate-limited-log';

describe('RateLimitedLog', () => {
  afterEach(() => jest.useRealTimers());

  it('logs one line per key per window and sums up the rest when the window ends', async () => {
    jest.useFakeTimers();
    const lines: string[] = [];
    const log = new RateLimitedLog({ warn: (l: string) => void lines.push(l), error: (l: string) => void lines.push(`E ${l}`) }, 10_000);
    for (let i = 0; i < 1000; i++) log.warn('401 invalid_signature', `refused ${i}`);
    log.warn('400 malformed_json', 'bad json');
    expect(lines).toEqual(['refused 0', 'bad json']);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^999 more like this in the last 10 s .*latest: refused 999$/);
    // The summary opened the next window: still limited.
    log.warn('401 invalid_signature', 'refused again');
    expect(lines).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(lines[3]).toMatch(/^1 more like this/);
    await jest.advanceTimersByTimeAsync(10_000);
    log.warn('401 invalid_signature', 'after a quiet window');
    expect(lines[4]).toBe('after a quiet window');
    log.flush();
  });
});
