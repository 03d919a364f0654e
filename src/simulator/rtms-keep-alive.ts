/**
 * RTMS keep-alives (rtms-protocol.md §4): the server asks on every socket, and a socket that
 * leaves keepAliveMissLimit requests unanswered counts as lost, as on Zoom.
 */
import { WebSocket } from 'ws';
import { int } from './http-util';
import { MsgType, StopReason } from './protocol';
import type { RtmsConfig } from './rtms';
import type { RtmsRecorder } from './rtms-records';
import type { Conn, MediaNotify, SendFn, Stream } from './rtms-stream';
import type { TimerSet } from './rtms-timers';

/** What giving up on a silent socket takes: the engine owns interruptions. */
export interface KeepAliveHost {
  send: SendFn;
  interruptSignaling(s: Stream, why: string, reason: number, webhook: boolean): void;
  interruptMedia(s: Stream, c: Conn, why: string, notify: MediaNotify, reason: number): void;
}

export class RtmsKeepAlive {
  constructor(
    private readonly cfg: Pick<RtmsConfig, 'keepAliveIntervalMs' | 'keepAliveMissLimit'>,
    private readonly timers: TimerSet,
    private readonly recorder: RtmsRecorder,
    private readonly host: KeepAliveHost,
  ) {}

  start(c: Conn): void {
    this.stop(c);
    const t = this.timers.every(this.cfg.keepAliveIntervalMs, () => this.tick(c));
    c.ka.timer = t;
  }

  stop(c: Conn): void {
    if (c.ka.timer) this.timers.clear(c.ka.timer);
    c.ka.timer = undefined;
  }

  private tick(c: Conn): void {
    const s = c.stream;
    if (!s || c.closing || c.ws.readyState !== WebSocket.OPEN) return this.stop(c);
    if (s.kaSuppressed[c.kind]) return;
    if (c.ka.unanswered >= this.cfg.keepAliveMissLimit) {
      if (c.kind === 'signaling') this.host.interruptSignaling(s, `keep-alive timeout (${c.ka.unanswered} unanswered)`, StopReason.KEEP_ALIVE_TIMEOUT, true);
      else this.host.interruptMedia(s, c, `keep-alive timeout (${c.ka.unanswered} unanswered)`, 'event', StopReason.KEEP_ALIVE_TIMEOUT);
      return;
    }
    const ts = Date.now();
    // Timestamps must be unique per socket to match answers.
    let key = ts;
    while (c.ka.outstanding.has(key)) key++;
    c.ka.outstanding.set(key, ts);
    c.ka.unanswered++;
    this.recorder.record(s.streamId).keepAlives[c.kind].sent++;
    this.host.send(c, { msg_type: MsgType.KEEP_ALIVE_REQ, timestamp: key });
  }

  onResponse(c: Conn, msg: Record<string, unknown>): void {
    const s = c.stream;
    if (!s) return;
    const ts = int(msg.timestamp);
    const sentAt = ts !== undefined ? c.ka.outstanding.get(ts) : undefined;
    const stats = this.recorder.record(s.streamId).keepAlives[c.kind];
    if (sentAt === undefined) return; // unsolicited or wrong timestamp: does not count
    // This request and every older one are settled; newer ones are still outstanding.
    for (const k of [...c.ka.outstanding.keys()]) if (k <= (ts as number)) c.ka.outstanding.delete(k);
    c.ka.unanswered = c.ka.outstanding.size;
    stats.answered++;
    stats.latenciesMs.push(Date.now() - sentAt);
  }
}
