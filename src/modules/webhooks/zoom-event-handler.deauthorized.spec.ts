import { Logger } from '@nestjs/common';
import { JobName } from '../../jobs/job-names';
import { EventProcessingStatus, EventSource } from '../sessions';
import { ZoomEventHandlerService } from './zoom-event-handler.service';

/** The app_deauthorized path of the handler: the oauth.deauthorize job it queues (collaborators faked). */
describe('ZoomEventHandlerService app_deauthorized', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  function handled(payload: Record<string, unknown>) {
    const event = { id: 'ev1', status: EventProcessingStatus.Received, source: EventSource.Webhook, eventType: 'app_deauthorized', payload: { event: 'app_deauthorized', payload } };
    const events = { getEvent: jest.fn(async () => event), finishEvent: jest.fn() };
    const producer = { enqueue: jest.fn(async () => undefined) };
    const config = { get: () => ({ clientId: 'cid', allowedHosts: [], allowInsecureWs: false }) };
    const metrics = { counter: () => ({ inc: () => undefined }) };
    const handler = new ZoomEventHandlerService(events as never, {} as never, producer as never, {} as never, config as never, metrics as never, {} as never);
    return { run: () => handler.handle('ev1', false), producer };
  }

  const base = { user_id: 'zu_1', account_id: 'za_1', client_id: 'cid' };

  it("carries Zoom's deauthorization_time in the job, so a late retry leaves a later consent", async () => {
    const { run, producer } = handled({ ...base, deauthorization_time: '2019-06-17T13:52:28.632Z' });
    await run();
    expect(producer.enqueue).toHaveBeenCalledWith(JobName.OAuthDeauthorize, { eventId: 'ev1', zoomUserId: 'zu_1', zoomAccountId: 'za_1', deauthorizedAt: '2019-06-17T13:52:28.632Z' });
  });

  it.each([[undefined], ['1.5'], ['yesterday'], ['2019-13-45T99:99:99Z'], [1560779548632]])('without a readable one (%p) every connection of the user goes', async (time) => {
    const { run, producer } = handled({ ...base, deauthorization_time: time });
    await run();
    expect(producer.enqueue).toHaveBeenCalledWith(JobName.OAuthDeauthorize, { eventId: 'ev1', zoomUserId: 'zu_1', zoomAccountId: 'za_1' });
  });
});
