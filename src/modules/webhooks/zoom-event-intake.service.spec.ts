import { Logger } from '@nestjs/common';
import { EventSource } from '../sessions';
import { ZoomEventIntakeService } from './zoom-event-intake.service';
import type { ZoomEventWriter } from './zoom-event-writer';

describe('ZoomEventIntakeService', () => {
  afterEach(() => jest.restoreAllMocks());

  function intake(store: ZoomEventWriter['store'] = async () => 'id-1') {
    const stored: Array<Parameters<ZoomEventWriter['store']>[0]> = [];
    const writer = { store: (input: Parameters<ZoomEventWriter['store']>[0]) => (stored.push(input), store(input)) };
    const config = { get: () => ({ allowedHosts: ['*.zoom.us'], allowInsecureWs: false }) };
    const metrics = { counter: () => ({ inc: () => undefined }) };
    return { svc: new ZoomEventIntakeService(writer as unknown as ZoomEventWriter, config as never, metrics as never), stored };
  }

  it('logs refused server_urls once per 10 s however many arrive (each is still refused)', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { svc } = intake();
    const body = { event: 'meeting.rtms_started', event_ts: 1, payload: { rtms_stream_id: 'x', server_urls: 'wss://attacker.example.com' } };
    for (let i = 0; i < 100; i++) await expect(svc.ingest(body, EventSource.Webhook)).rejects.toMatchObject({ code: 'disallowed_server_url' });
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('stores an event with a NUL or a lone surrogate with U+FFFD in their place, re-serialised', async () => {
    const { svc, stored } = intake();
    const raw = '{"event":"meeting.participant_joined","event_ts":1,"payload":{"object":{"participant":{"user_name":"Ann\\u0000Lee","x":"\\udc00"}}}}';
    await expect(svc.ingest(JSON.parse(raw), EventSource.Webhook, raw)).resolves.toBe('accepted');
    expect(stored[0].payloadJson).toBeUndefined();
    expect(JSON.stringify(stored[0].payload)).toContain('Ann\uFFFDLee');
    expect(JSON.stringify(stored[0].payload)).not.toMatch(/\\u0000|\\udc00/i);
    // Nothing to replace: the raw text is stored byte for byte.
    const clean = '{"event":"x","payload":{"a":"\\\\u0000 is text here"}}';
    await svc.ingest(JSON.parse(clean), EventSource.Webhook, clean);
    expect(stored[1].payloadJson).toBe(clean);
  });
});
