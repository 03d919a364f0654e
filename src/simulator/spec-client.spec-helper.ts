/**
 * A minimal RTMS client written from docs/rtms-protocol.md for the simulator's own tests.
 * Deliberately imports nothing from the simulator: it checks the simulator from outside.
 */
import { createHmac } from 'crypto';
import WebSocket from 'ws';

export type Msg = Record<string, unknown> & { msg_type?: number };

export function sign(clientId: string, secret: string, uuid: string, streamId: string): string {
  return createHmac('sha256', secret).update(`${clientId},${uuid},${streamId}`).digest('hex');
}

/** A JSON WebSocket that records every message and answers keep-alives (unless told not to). */
export class JsonSocket {
  readonly msgs: Msg[] = [];
  answerKeepAlives = true;
  sendBinary = false;
  closeInfo?: { code: number; reason: string; at: number };
  keepAlivesSeen = 0;
  private listeners = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
      let m: Msg;
      try {
        m = JSON.parse(text) as Msg;
      } catch {
        m = { msg_type: -1, raw: text.slice(0, 200) };
      }
      this.msgs.push(m);
      if (m.msg_type === 12) {
        this.keepAlivesSeen++;
        if (this.answerKeepAlives) this.send({ msg_type: 13, timestamp: m.timestamp });
      }
      this.notify();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
      this.notify();
    });
    ws.on('error', () => undefined);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  static open(url: string): Promise<JsonSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const s = new JsonSocket(ws);
      ws.once('open', () => resolve(s));
      ws.once('error', reject);
    });
  }

  send(m: Msg): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(m);
    this.ws.send(this.sendBinary ? Buffer.from(text) : text, { binary: this.sendBinary });
  }

  /** Resolve when `pred` holds (checked on every message/close), or reject at the deadline. */
  until<T>(pred: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = pred();
        if (v !== undefined && v !== false) {
          cleanup();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; got types ${JSON.stringify(this.msgs.map((m) => m.msg_type).slice(-30))}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  next(type: number, timeoutMs = 5000, from = 0): Promise<Msg> {
    return this.until(() => this.msgs.slice(from).find((m) => m.msg_type === type), timeoutMs, `msg_type ${type}`);
  }

  count(type: number): number {
    return this.msgs.filter((m) => m.msg_type === type).length;
  }

  closed(timeoutMs = 5000): Promise<{ code: number; reason: string; at: number }> {
    return this.until(() => this.closeInfo, timeoutMs, 'close');
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((r) => {
      this.ws.once('close', () => r());
      this.ws.terminate();
    });
  }
}

export interface Creds {
  clientId: string;
  clientSecret: string;
}

export interface StartedEvent {
  meeting_uuid: string;
  rtms_stream_id: string;
  server_urls: string;
}

/** Signaling handshake (msg 1 → msg 2). */
export async function signalingHandshake(creds: Creds, ev: StartedEvent, opts: { signature?: string; streamId?: string; extra?: Msg } = {}): Promise<{ sock: JsonSocket; resp: Msg }> {
  const sock = await JsonSocket.open(ev.server_urls.split(',')[0]);
  sock.send({
    msg_type: 1,
    protocol_version: 1,
    sequence: 1,
    meeting_uuid: ev.meeting_uuid,
    rtms_stream_id: opts.streamId ?? ev.rtms_stream_id,
    signature: opts.signature ?? sign(creds.clientId, creds.clientSecret, ev.meeting_uuid, ev.rtms_stream_id),
    ...opts.extra,
  });
  const resp = await sock.next(2);
  return { sock, resp };
}

export function mediaUrls(resp: Msg): Record<string, string> {
  const ms = resp.media_server as { server_urls: Record<string, string> };
  return ms.server_urls;
}

/** Media handshake (msg 3 → msg 4). */
export async function mediaHandshake(creds: Creds, ev: StartedEvent, url: string, mediaType: number, mediaParams?: unknown, opts: { signature?: string } = {}): Promise<{ sock: JsonSocket; resp: Msg }> {
  const sock = await JsonSocket.open(url);
  const req: Msg = {
    msg_type: 3,
    protocol_version: 1,
    sequence: 0,
    meeting_uuid: ev.meeting_uuid,
    rtms_stream_id: ev.rtms_stream_id,
    signature: opts.signature ?? sign(creds.clientId, creds.clientSecret, ev.meeting_uuid, ev.rtms_stream_id),
    media_type: mediaType,
    payload_encryption: false,
  };
  if (mediaParams !== undefined) req.media_params = mediaParams;
  sock.send(req);
  const resp = await sock.next(4);
  return { sock, resp };
}

export function content(m: Msg): Record<string, unknown> {
  return (m.content ?? {}) as Record<string, unknown>;
}
