import { Logger, UnauthorizedException } from '@nestjs/common';
import type { Response } from 'express';
import type { RawBodyRequest } from '../../common/http/body-parsers';
import { zoomWebhookRoute } from './zoom-webhook.route';
import type { ZoomWebhookReceiver } from './zoom-webhook.receiver';

describe('zoomWebhookRoute refusals', () => {
  afterEach(() => jest.restoreAllMocks());

  it('logs at most one warning per reason per 10 s however many requests are refused, and answers each', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const receiver = { receive: () => Promise.reject(new UnauthorizedException({ code: 'invalid_signature', message: 'Webhook signature check failed: mismatch' })) };
    const route = zoomWebhookRoute(receiver as unknown as ZoomWebhookReceiver);
    const answered: number[] = [];
    const done: Array<Promise<void>> = [];
    for (let i = 0; i < 200; i++) {
      done.push(
        new Promise<void>((resolve) => {
          const res = { headersSent: false, status: (c: number) => (answered.push(c), res), json: () => resolve() };
          route({ method: 'POST', path: '/', originalUrl: '/api/webhooks/zoom', id: `r${i}` } as unknown as RawBodyRequest, res as unknown as Response, () => resolve());
        }),
      );
    }
    await Promise.all(done);
    expect(answered).toEqual(new Array(200).fill(401));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('401 invalid_signature');
  });
});
