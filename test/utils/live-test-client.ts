import WebSocket from 'ws';
import { decodeFrameHeader, type FrameHeader } from '../../src/modules/live/live-protocol';
import { API_KEY } from './test-app';
import { waitFor } from './wait-for';

/** A text message as a live client receives it. */
export interface LiveText {
  type: string;
  sub?: string;
  id?: string;
  session_id?: string;
  ts?: number;
  data?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface LiveFrame extends FrameHeader {
  payloadBytes: number;
}

/**
 * An app's live WebSocket client for e2e tests: connects to /api/v1/live of an API
 * process, records every text message and media frame, and waits on them.
 */
export class LiveTestClient {
  readonly texts: LiveText[] = [];
  readonly frames: LiveFrame[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw, binary) => {
      if (binary) {
        const buf = raw as Buffer;
        const h = decodeFrameHeader(buf);
        if (h) this.frames.push({ ...h, payloadBytes: buf.length - h.headerBytes });
        return;
      }
      this.texts.push(JSON.parse(raw.toString()) as LiveText);
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  /** Connects with the test API key (or `headers`/`query` given instead). */
  static connect(baseUrl: string, opts: { headers?: Record<string, string>; query?: string } = {}): Promise<LiveTestClient> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/api/v1/live${opts.query ? `?${opts.query}` : ''}`;
    const ws = new WebSocket(url, { headers: opts.headers ?? { 'x-api-key': API_KEY } });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new LiveTestClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode })));
    });
  }

  /** Sends a subscribe and waits for its answer (`subscribed`, or throws on `error`). */
  async subscribe(request: Record<string, unknown>): Promise<LiveText> {
    const from = this.texts.length;
    this.ws.send(JSON.stringify({ type: 'subscribe', ...request }));
    const answer = await waitFor(() => this.texts.slice(from).find((m) => (m.type === 'subscribed' && m.id === request.id) || m.type === 'error'), { what: `answer to subscribe ${String(request.id)}` });
    if (answer.type === 'error') throw new Error(`subscribe refused: ${JSON.stringify(answer)}`);
    return answer;
  }

  /** Text messages carrying an entry id (events, transcript, chat), optionally of one type. */
  entries(type?: string): LiveText[] {
    return this.texts.filter((m) => typeof m.id === 'string' && m.type !== 'subscribed' && m.type !== 'unsubscribed' && (!type || m.type === type));
  }

  lastEntryId(): string | undefined {
    return this.entries().at(-1)?.id;
  }

  waitFor<T>(probe: () => T, what: string, timeoutMs = 15000): Promise<NonNullable<T>> {
    return waitFor(probe, { what, timeoutMs });
  }

  /** Closes and waits for the close to complete. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const done = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close();
    await done;
  }
}
