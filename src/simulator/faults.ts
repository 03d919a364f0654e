/** Fault injection on demand (issue 3 §6). */
import type { Conn, MediaPath } from './rtms-stream';
import type { ZoomSimulator } from './simulator';
import { StopReason } from './protocol';

export interface RestRule {
  status: number;
  /** Substring or pattern matched against the request path (e.g. '/rtms_app/status', '/oauth/token'). */
  match?: string | RegExp;
  method?: string;
  /** How many matching requests get this answer (default 1). */
  count?: number;
  retryAfterSec?: number;
  body?: unknown;
}

export interface SlowRule {
  match?: string | RegExp;
  method?: string;
  delayMs: number;
  count?: number;
}

export type MalformedKind = 'bad-json' | 'bad-base64' | 'missing-fields' | 'oversized' | 'unknown-type' | 'binary-json' | 'wrong-length';

function matches(rule: { match?: string | RegExp; method?: string }, method: string, path: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) return false;
  if (rule.match === undefined) return true;
  return typeof rule.match === 'string' ? path.includes(rule.match) : rule.match.test(path);
}

export class SimulatorFaults {
  private restRules: Array<RestRule & { left: number }> = [];
  private slowRules: Array<SlowRule & { left: number }> = [];
  private controlErrors = new Map<number, Array<{ status: number; code: number; message: string }>>();

  constructor(private readonly sim: ZoomSimulator) {}

  // ─────────── RTMS sockets ───────────

  /** Drop the signaling socket (and media); sends `*.rtms_interrupted` unless `webhook: false`. */
  dropSignaling(streamId: string, opts: { webhook?: boolean } = {}): void {
    const s = this.mustStream(streamId);
    this.sim.rtms.interruptSignaling(s, 'fault: signaling dropped', StopReason.SIGNAL_CONNECTION_INTERRUPTED, opts.webhook ?? true);
  }

  /**
   * Drop a media socket (default: `all`, else the first one). `notify`: msg 6 event 7
   * (default), msg 8 state 2 reason 14, both, or nothing.
   */
  dropMedia(streamId: string, opts: { path?: MediaPath; notify?: 'event' | 'state' | 'both' | 'none' } = {}): void {
    const s = this.mustStream(streamId);
    const c = this.sim.rtms.mediaConn(s, opts.path);
    if (!c) throw new Error(`stream ${streamId} has no media connection${opts.path ? ` on ${opts.path}` : ''}`);
    this.sim.rtms.interruptMedia(s, c, 'fault: media dropped', opts.notify ?? 'event', StopReason.DATA_CONNECTION_INTERRUPTED);
  }

  /** Stop sending keep-alive requests on a stream's sockets. */
  stopKeepAlives(streamId: string, socket: 'signaling' | 'media' | 'both' = 'both'): void {
    const s = this.mustStream(streamId);
    if (socket !== 'media') s.kaSuppressed.signaling = true;
    if (socket !== 'signaling') s.kaSuppressed.media = true;
  }

  resumeKeepAlives(streamId: string, socket: 'signaling' | 'media' | 'both' = 'both'): void {
    const s = this.mustStream(streamId);
    if (socket !== 'media') s.kaSuppressed.signaling = false;
    if (socket !== 'signaling') s.kaSuppressed.media = false;
  }

  /** Server failover: closes the stream's sockets and sends a new `rtms_started` with new server_urls. Returns them. */
  failover(streamId: string): string {
    return this.sim.failover(streamId);
  }

  /** Send a malformed message on the stream's media socket (or signaling). */
  malformedMedia(streamId: string, kind: MalformedKind, opts: { path?: MediaPath; socket?: 'media' | 'signaling' } = {}): void {
    const s = this.mustStream(streamId);
    const c: Conn | undefined = opts.socket === 'signaling' ? s.signaling : this.sim.rtms.mediaConn(s, opts.path);
    if (!c) throw new Error(`stream ${streamId} has no ${opts.socket ?? 'media'} connection`);
    const ts = Date.now();
    const rtms = this.sim.rtms;
    switch (kind) {
      case 'bad-json':
        return rtms.sendRaw(c, '{"msg_type":14,"content":{"user_id":1,"data":"AAAA"');
      case 'bad-base64':
        return rtms.sendRaw(c, JSON.stringify({ msg_type: 14, content: { user_id: 1, user_name: 'x', data: '!!!not*base64$$$', length: 12, timestamp: ts } }));
      case 'missing-fields':
        return rtms.sendRaw(c, JSON.stringify({ msg_type: 15, content: {} }));
      case 'unknown-type':
        return rtms.sendRaw(c, JSON.stringify({ msg_type: 99, content: { hello: 'world' } }));
      case 'wrong-length':
        return rtms.sendRaw(c, JSON.stringify({ msg_type: 14, content: { user_id: 1, user_name: 'x', data: Buffer.alloc(640).toString('base64'), length: 9999, timestamp: ts } }));
      case 'binary-json':
        return rtms.sendRaw(c, Buffer.from(JSON.stringify({ msg_type: 14, content: { user_id: 0, data: Buffer.alloc(640).toString('base64'), length: 640, timestamp: ts } })), true);
      case 'oversized': {
        const bytes = Buffer.alloc(7_500_000, 7);
        return rtms.sendRaw(c, JSON.stringify({ msg_type: 15, content: { user_id: 1, user_name: 'x', data: bytes.toString('base64'), length: bytes.length, timestamp: ts } }));
      }
    }
  }

  // ─────────── webhooks ───────────

  /** The next `count` webhooks are each delivered `copies` times. */
  duplicateWebhooks(copies = 2, count = 1): void {
    this.sim.webhooks.pendingCopies = copies;
    this.sim.webhooks.pendingCopiesCount = count;
  }

  /** The next `count` webhooks are held back `delayMs` (late delivery). */
  delayWebhooks(delayMs: number, count = 1): void {
    this.sim.webhooks.pendingDelayMs = delayMs;
    this.sim.webhooks.pendingDelayCount = count;
  }

  /** Re-send an already delivered webhook body (same event_ts), e.g. a Zoom retry. */
  redeliverWebhook(body: string, opts: { delayMs?: number } = {}): void {
    const parsed: unknown = JSON.parse(body);
    const event = typeof parsed === 'object' && parsed !== null && 'event' in parsed ? String((parsed as { event: unknown }).event) : 'unknown';
    this.sim.webhooks.sendRaw(event, body, { delayMs: opts.delayMs, noEventWs: false });
  }

  // ─────────── REST / OAuth ───────────

  /** The next `count` requests matching get `status` (e.g. 429 with Retry-After, 500, 503). */
  restError(rule: RestRule): void {
    this.restRules.push({ ...rule, left: rule.count ?? 1 });
  }

  rest429(match: string | RegExp, count = 1, retryAfterSec = 1): void {
    this.restError({ status: 429, match, count, retryAfterSec });
  }

  rest5xx(match: string | RegExp, count = 1, status = 500): void {
    this.restError({ status, match, count });
  }

  /** Delay the answer of the next `count` matching requests. */
  slowRest(rule: SlowRule): void {
    this.slowRules.push({ ...rule, left: rule.count ?? 1 });
  }

  /** The next `count` RTMS control calls for this meeting fail with a Zoom error (e.g. 400/2308, 400/2310). */
  rtmsControlError(meetingId: number, err: { status?: number; code: number; message?: string }, count = 1): void {
    const list = this.controlErrors.get(meetingId) ?? [];
    const message =
      err.message ??
      (err.code === 2310 ? 'Your account is not eligible for RTMS (Developer Pack required).' : err.code === 2308 ? 'Only the host or alternative host of the meeting can start RTMS.' : 'RTMS error.');
    for (let i = 0; i < count; i++) list.push({ status: err.status ?? 400, code: err.code, message });
    this.controlErrors.set(meetingId, list);
  }

  // ─────────── event WebSocket ───────────

  /** Drop every event-WebSocket connection (close 1001, or TCP reset when abrupt). Returns how many. */
  dropEventWs(opts: { abrupt?: boolean } = {}): number {
    return this.sim.eventWs.dropAll(opts.abrupt ?? false);
  }

  clear(): void {
    this.restRules = [];
    this.slowRules = [];
    this.controlErrors.clear();
    this.sim.webhooks.pendingCopiesCount = 0;
    this.sim.webhooks.pendingDelayCount = 0;
  }

  /** @internal */
  takeRestRule(method: string, path: string): RestRule | undefined {
    const r = this.restRules.find((x) => x.left > 0 && matches(x, method, path));
    if (!r) return undefined;
    r.left--;
    this.restRules = this.restRules.filter((x) => x.left > 0);
    return r;
  }

  /** @internal */
  takeSlow(method: string, path: string): number {
    const r = this.slowRules.find((x) => x.left > 0 && matches(x, method, path));
    if (!r) return 0;
    r.left--;
    this.slowRules = this.slowRules.filter((x) => x.left > 0);
    return r.delayMs;
  }

  /** @internal */
  takeControlError(meetingId: number): { status: number; code: number; message: string } | undefined {
    return this.controlErrors.get(meetingId)?.shift();
  }

  private mustStream(id: string) {
    const s = this.sim.stream(id);
    if (!s) throw new Error(`unknown stream ${id}`);
    return s;
  }
}
