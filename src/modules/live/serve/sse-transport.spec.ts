import http from 'node:http';
import net from 'node:net';
import type { Response } from 'express';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { JobProducer } from '../../../jobs/job-producer.service';
import { waitFor } from '../../../../test/utils/wait-for';
import { LiveCloseCode } from '../live-protocol';
import { LiveClient } from './live-client';
import { LiveMetrics } from './live-metrics';
import { SseTransport } from './sse-transport';
import { Subscription } from './subscription';
import { TextCursor } from './text-cursor';
import { replayLog } from './text-replay';

const LIMIT = 256 * 1024;
const TEXT = 'x'.repeat(8 * 1024);
const metrics = () => new LiveMetrics(new MetricsService({ allQueues: () => [] } as unknown as JobProducer));
const item = (n: number) => ({ id: `${n}-0`, entry: { media: 'transcript' as const, session_id: 's', ts: Date.now(), data: { text: TEXT } }, bytes: TEXT.length });

/**
 * An SSE response served to a peer that sent its request and then stopped reading (a
 * stalled network, a zero window): what is written for it piles up in the process.
 */
async function stalledSseClient(drainTimeoutMs?: number) {
  let client: LiveClient | undefined;
  let res!: http.ServerResponse;
  const server = http.createServer((_req, r) => {
    res = r;
    r.writeHead(200, { 'content-type': 'text/event-stream' });
    r.flushHeaders();
    client = new LiveClient(new SseTransport(r as unknown as Response), { keyFingerprint: 'k', sessionIds: null, owner: null }, LIMIT, metrics(), () => undefined, drainTimeoutMs);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const peer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  peer.on('error', () => undefined);
  await new Promise<void>((ok) => peer.on('connect', ok));
  peer.write('GET /live HTTP/1.1\r\nHost: h\r\n\r\n');
  peer.pause();
  const connected = await waitFor(() => client, { what: 'the SSE client' });
  const stop = async () => {
    peer.destroy();
    res.destroy();
    await new Promise((ok) => server.close(ok));
  };
  return { client: connected, res: () => res, stop };
}

describe('SSE clients that stop reading', () => {
  it('a client cut as too slow loses its socket, and with it what was buffered for it', async () => {
    const sse = await stalledSseClient();
    try {
      let n = 0;
      while (!sse.client.closed) {
        sse.client.sendEntry('sse', item(++n));
        await new Promise((r) => setImmediate(r));
      }
      await waitFor(() => sse.res().socket === null || sse.res().socket?.destroyed, { what: 'the socket destroyed', timeoutMs: 2000 });
      expect(sse.res().destroyed).toBe(true);
    } finally {
      await sse.stop();
    }
  }, 20_000);

  it('a resume replay to a client that stopped reading gives up after the drain timeout and cuts it as too slow', async () => {
    const sse = await stalledSseClient(500);
    try {
      const sub = new Subscription({ id: 'sse', sessions: ['s'], textMedia: ['transcript'], binaryMedia: [], participants: null, resumeFrom: '1-0' });
      const cursor = new TextCursor(sub, 's', sse.client, '1-0');
      let next = 2;
      const source = {
        range: async () => {
          const entries = Array.from({ length: 200 }, () => item(next++));
          return { entries, read: 200, lastId: entries[199].id };
        },
      };
      const replay = replayLog(cursor, source, { pageSize: 200, whenWritable: () => sse.client.whenWritable() });
      let timer!: NodeJS.Timeout;
      const done = await Promise.race([replay.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), 4000)))]);
      clearTimeout(timer);
      expect(done).toBe(true);
      expect(sse.client.closed).toBe(true);
      await waitFor(() => sse.res().destroyed, { what: 'the socket destroyed', timeoutMs: 2000 });
    } finally {
      await sse.stop();
    }
  }, 20_000);

  it('a client whose buffer stays at half the limit or more for a whole check interval is cut (SSE has no ping)', async () => {
    const sse = await stalledSseClient();
    try {
      // Past half the limit (the kernel takes some first), then nothing more is sent: a quiet session.
      let n = 0;
      while (sse.res().writableLength < LIMIT / 2) {
        sse.client.sendEntry('sse', item(++n));
        await new Promise((r) => setImmediate(r));
      }
      expect(sse.client.closed).toBe(false);
      expect(sse.client.checkDrained()).toBe(false); // it was below half earlier in this interval
      expect(sse.client.checkDrained()).toBe(true);
      expect(sse.client.closed).toBe(true);
      await waitFor(() => sse.res().destroyed, { what: 'the socket destroyed', timeoutMs: 2000 });
    } finally {
      await sse.stop();
    }
  }, 20_000);

  it('ends a stream it closes for another reason, and cuts it after a short grace if the peer does not take the end', async () => {
    const sse = await stalledSseClient();
    try {
      let n = 0;
      while (sse.res().writableLength < LIMIT / 4) {
        sse.client.sendEntry('sse', item(++n));
        await new Promise((r) => setImmediate(r));
      }
      sse.client.close(LiveCloseCode.GoingAway, 'shutdown', 'bye');
      expect(sse.res().writableEnded).toBe(true);
      expect(sse.res().destroyed).toBe(false);
      await waitFor(() => sse.res().destroyed, { what: 'the socket destroyed after the grace', timeoutMs: 3000 });
    } finally {
      await sse.stop();
    }
  }, 20_000);
});
