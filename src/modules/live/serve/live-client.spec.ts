import { MetricsService } from '../../../common/metrics/metrics.service';
import { JobProducer } from '../../../jobs/job-producer.service';
import { LiveCloseCode } from '../live-protocol';
import { DROP_NOTICE_INTERVAL_MS, LiveClient } from './live-client';
import { LiveMetrics } from './live-metrics';
import { LiveTransport } from './live-transport';
import { LogEntry } from './text-log';

/** A transport whose buffer only grows (a client that never reads) unless drained by the test. */
class FakeTransport implements LiveTransport {
  readonly kind = 'ws' as const;
  buffered = 0;
  texts: string[] = [];
  frames = 0;
  closedWith: number | null = null;
  bufferedBytes() {
    return this.buffered;
  }
  sendEntry(message: string) {
    this.texts.push(message);
    this.buffered += Buffer.byteLength(message);
  }
  sendControl(_type: string, message: string) {
    this.texts.push(message);
    this.buffered += message.length;
  }
  sendFrame(frame: Buffer) {
    this.frames++;
    this.buffered += frame.length;
  }
  cork() {}
  uncork() {}
  close(code: number) {
    this.closedWith = code;
  }
  terminate() {}
}

const metrics = () => new LiveMetrics(new MetricsService({ allQueues: () => [] } as unknown as JobProducer));
const entry = (id: string, text = 'hello'): LogEntry => ({ id, entry: { media: 'transcript', session_id: 's', ts: Date.now(), data: { text } }, bytes: 50 });

describe('LiveClient backpressure', () => {
  const LIMIT = 4096;

  it('drops media past the limit, counts it, and reports at most once a second', () => {
    const t = new FakeTransport();
    const client = new LiveClient(t, { keyFingerprint: 'k', sessionIds: null, owner: null }, LIMIT, metrics(), () => undefined);
    const frame = Buffer.alloc(1000);
    let now = 10_000;
    for (let i = 0; i < 10; i++) client.sendFrame(frame, 'audio', now);
    expect(t.frames).toBe(4);
    expect(t.buffered).toBeLessThanOrEqual(LIMIT);
    // The first drop is reported at once; the next ones wait for the interval.
    expect(t.texts.map((m) => JSON.parse(m))).toEqual([{ type: 'media_dropped', frames: 1, bytes: 1000, by_media: { audio: 1 } }]);
    for (let i = 0; i < 3; i++) client.sendFrame(frame, 'video', now + 10);
    expect(t.texts).toHaveLength(1);
    now += DROP_NOTICE_INTERVAL_MS;
    t.buffered = 0;
    client.sendFrame(frame, 'video', now);
    expect(t.frames).toBe(5);
    expect(JSON.parse(t.texts[1])).toEqual({ type: 'media_dropped', frames: 8, bytes: 8000, by_media: { audio: 5, video: 3 } });
    expect(client.closed).toBe(false);
  });

  it('never drops text: text past the limit cuts the client with TooSlow', () => {
    const t = new FakeTransport();
    const closed: LiveClient[] = [];
    const client = new LiveClient(t, { keyFingerprint: 'k', sessionIds: null, owner: null }, LIMIT, metrics(), (c) => closed.push(c));
    let i = 0;
    while (client.sendEntry('sub', entry(`${++i}-0`, 'x'.repeat(200)))) expect(i).toBeLessThan(100);
    expect(t.closedWith).toBe(LiveCloseCode.TooSlow);
    expect(closed).toEqual([client]);
    expect(client.peakBufferedBytes).toBeLessThanOrEqual(LIMIT);
    expect(client.sendEntry('sub', entry('999-0'))).toBe(false);
  });

  it('bounds control messages too: a client that keeps asking and never reads is cut with TooSlow', () => {
    const t = new FakeTransport();
    const closed: LiveClient[] = [];
    const client = new LiveClient(t, { keyFingerprint: 'k', sessionIds: null, owner: null }, LIMIT, metrics(), (c) => closed.push(c));
    // The answer to {"type":"unsubscribe","id":"x"} sent in a loop, none of them read.
    let i = 0;
    while (!client.closed && ++i < 1000) client.sendControl({ type: 'error', code: 'unknown_subscription', message: 'No subscription x', id: 'x' });
    expect(t.closedWith).toBe(LiveCloseCode.TooSlow);
    expect(closed).toEqual([client]);
    expect(t.buffered).toBeLessThanOrEqual(LIMIT);
    const sent = t.texts.length;
    client.sendControl({ type: 'unsubscribed', id: 'x' });
    expect(t.texts).toHaveLength(sent);
  });

  it('builds each text message with its subscription and entry id', () => {
    const t = new FakeTransport();
    const client = new LiveClient(t, { keyFingerprint: 'k', sessionIds: null, owner: null }, LIMIT, metrics(), () => undefined);
    client.sendEntry('mine', entry('7-1'));
    expect(JSON.parse(t.texts[0])).toMatchObject({ type: 'transcript', sub: 'mine', id: '7-1', session_id: 's', data: { text: 'hello' } });
  });

  it('paces on half the limit and bounds held memory', async () => {
    const t = new FakeTransport();
    const client = new LiveClient(t, { keyFingerprint: 'k', sessionIds: null, owner: null }, LIMIT, metrics(), () => undefined);
    expect(client.whenWritable()).toBe(true);
    t.buffered = LIMIT;
    const writable = client.whenWritable() as Promise<boolean>;
    t.buffered = LIMIT / 2 - 1;
    await expect(writable).resolves.toBe(true);
    expect(client.reservePending(LIMIT)).toBe(true);
    expect(client.reservePending(1)).toBe(false);
    client.releasePending(LIMIT);
    expect(client.reservePending(1)).toBe(true);
  });

  it('a pacing replay waits for the buffer to drain at most the drain timeout, then cuts the client as too slow', async () => {
    const t = new FakeTransport();
    const closed: LiveClient[] = [];
    const client = new LiveClient(t, { keyFingerprint: 'k', sessionIds: null, owner: null }, LIMIT, metrics(), (c) => closed.push(c), 100);
    t.buffered = LIMIT;
    const started = Date.now();
    await expect(client.whenWritable()).resolves.toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(t.closedWith).toBe(LiveCloseCode.TooSlow);
    expect(closed).toEqual([client]);
  });

  it('checkDrained cuts a client only when its buffer was never below half the limit for a whole interval', () => {
    const t = new FakeTransport();
    const client = new LiveClient(t, { keyFingerprint: 'k', sessionIds: null, owner: null }, LIMIT, metrics(), () => undefined);
    t.buffered = LIMIT / 2;
    expect(client.checkDrained()).toBe(false); // below half when it started
    // A slow reader: it drains below half, the sender fills it again, between two checks.
    t.buffered = LIMIT / 2 - 1;
    client.sendEntry('s', entry('1-0'));
    t.buffered = LIMIT / 2 + 100;
    expect(client.checkDrained()).toBe(false);
    expect(client.closed).toBe(false);
    // Then it stops reading: at half or more for the whole next interval.
    client.sendEntry('s', entry('2-0'));
    expect(client.checkDrained()).toBe(true);
    expect(t.closedWith).toBe(LiveCloseCode.TooSlow);
  });
});
