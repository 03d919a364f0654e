import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { defaultJobOptions, jobOptionsFor } from '../../jobs/job-options';
import type { AppConfig } from '../../config/app.config';
import type { ZoomTokenProvider } from '../../zoom/auth/zoom-token.provider';
import { ReauthorizationRequiredError, ZoomTransportError } from '../../zoom/zoom-errors';
import { ConnectionNotFoundError } from './oauth-connections.service';
import type { OAuthDeauthorizer } from './oauth-deauthorizer.service';
import { OAuthProcessor, TOKEN_REFRESH_MAX_THROTTLED } from './oauth.processor';

const config = { zoomRooms: { attempts: 6, backoffMs: 2000 }, queues: { attempts: 5, backoffMs: 1000, keepFailedMedia: 10 } } as unknown as Pick<AppConfig, 'zoomRooms' | 'queues'>;

function processorFailingWith(err: Error) {
  const refreshIfDue = jest.fn(async () => Promise.reject(err));
  const processor = new OAuthProcessor({ refreshIfDue } as unknown as ZoomTokenProvider, {} as OAuthDeauthorizer);
  const job = {
    name: JobName.TokenRefresh,
    data: { connectionId: 'c1', tokenVersion: 3 } as { connectionId: string; tokenVersion: number; throttled?: number },
    token: 'lock',
    updateData: jest.fn(async function (this: { data: unknown }, data: unknown) {
      this.data = data;
    }),
    moveToDelayed: jest.fn(async () => undefined),
  };
  const handle = () => (processor as unknown as { handle(j: unknown): Promise<unknown> }).handle(job as unknown as Job);
  return { job, handle };
}

describe('OAuthProcessor: token.refresh', () => {
  it('has a retry budget that outlasts an outage of about an hour, not the default ~15 s', () => {
    const opts = { ...defaultJobOptions({ attempts: 5, backoffMs: 1000, keepCompleted: 1, keepFailed: 1 } as AppConfig['queues']), ...jobOptionsFor(JobName.TokenRefresh, { connectionId: 'c1', tokenVersion: 3 }, config) };
    expect(opts.jobId).toBe('token-refresh-c1-v3');
    const backoff = opts.backoff as { type: string; delay: number };
    expect(backoff.type).toBe('exponential');
    let total = 0;
    for (let retry = 1; retry < (opts.attempts ?? 1); retry++) total += backoff.delay * 2 ** (retry - 1);
    expect(total).toBeGreaterThanOrEqual(60 * 60_000);
  });

  it("waits out a 429 of Zoom's token endpoint for its Retry-After without using an attempt, a bounded number of times", async () => {
    const { job, handle } = processorFailingWith(new ZoomTransportError('token refresh', 'HTTP 429', 429, 120));
    const before = Date.now();
    await expect(handle()).rejects.toBeInstanceOf(DelayedError);
    const [at, token] = job.moveToDelayed.mock.calls[0] as unknown as [number, string];
    expect(at - before).toBeGreaterThanOrEqual(120_000);
    expect(token).toBe('lock');
    expect(job.data.throttled).toBe(1);

    job.data.throttled = TOKEN_REFRESH_MAX_THROTTLED;
    await expect(handle()).rejects.toBeInstanceOf(ZoomTransportError); // then it uses attempts like any error
  });

  it('a connection deleted while it was refreshed ends the job; a refused grant fails it for good', async () => {
    await expect(processorFailingWith(new ConnectionNotFoundError('c1')).handle()).resolves.toEqual({ refreshed: false });
    await expect(processorFailingWith(new ReauthorizationRequiredError('c1')).handle()).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(processorFailingWith(new ZoomTransportError('token refresh', 'HTTP 503', 503)).handle()).rejects.toBeInstanceOf(ZoomTransportError);
  });
});
