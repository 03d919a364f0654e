/** The Zoom simulator: one HTTP server for OAuth, REST, webhooks out, RTMS and event WebSockets. */
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { Duplex } from 'stream';
import { EventWsServer } from './event-ws';
import { HttpRouter } from './http-router';
import { MeetingState, type Participant } from './meeting';
import { resolveOptions, type ResolvedOptions } from './options';
import { DEFAULT_USER, OAuthServer, type OAuthStats } from './oauth';
import { StopReason } from './protocol';
import { RtmsEngine } from './rtms';
import type { Stream } from './rtms-stream';
import { randomMeetingUuid } from './signing';
import type { DeliveredWebhook, EventWsDelivery, MeetingScript, RestCall, SimMeeting, SimStream, SimUser, SimulatorOptions, StreamRecord, UrlValidationResult, UrlValidationStatus } from './types';
import { UrlValidationSchedule } from './url-validation';
import { WebhookSender, type SendOptions } from './webhooks';
import { SimulatorFaults } from './faults';

export interface SimRoom {
  id: string;
  room_id: string;
  name: string;
  status: 'Offline' | 'Available' | 'InMeeting' | 'UnderConstruction';
  location_id: string;
  activation_code: string;
  tag_ids: string[];
  /** Meeting the room is in (simulator state). */
  meetingId?: number;
  participantUserId?: number;
}

export class ZoomSimulator {
  readonly options: ResolvedOptions;
  httpBaseUrl = '';
  oauthBaseUrl = '';
  apiBaseUrl = '';
  eventWsUrl = '';
  signalingUrl = '';
  readonly restLog: RestCall[] = [];
  readonly faults: SimulatorFaults;
  readonly meetings = new Map<number, MeetingState>();
  readonly rooms = new Map<string, SimRoom>();
  /** @internal */ readonly oauth: OAuthServer;
  /** @internal */ readonly rtms: RtmsEngine;
  /** @internal */ readonly webhooks: WebhookSender;
  /** @internal */ readonly eventWs: EventWsServer;
  private readonly urlValidationSchedule: UrlValidationSchedule;
  private readonly server: http.Server;
  private readonly sockets = new Set<Duplex>();
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly router: HttpRouter;
  private stopped = false;

  private constructor(opts: SimulatorOptions) {
    this.options = resolveOptions(opts);
    const o = this.options;
    this.oauth = new OAuthServer(
      { clientId: o.clientId, clientSecret: o.clientSecret, s2s: o.s2s, generalApp: o.generalApp, redirectUris: o.redirectUris, accessTokenTtlSec: o.accessTokenTtlSec, apiBaseUrl: () => this.apiBaseUrl },
      { ...DEFAULT_USER, account_id: o.s2s.accountId },
    );
    this.webhooks = new WebhookSender({ secretToken: o.webhookSecretToken, timeoutMs: o.webhookTimeoutMs, retryDelaysMs: o.webhookRetryDelaysMs, log: o.log });
    this.webhooks.target = opts.webhookUrl ?? null;
    this.urlValidationSchedule = new UrlValidationSchedule((url, plainToken) => this.webhooks.validateUrl(plainToken, url), {
      automatic: o.autoUrlValidation,
      intervalMs: o.urlValidationIntervalMs,
    });
    this.eventWs = new EventWsServer(this.oauth, { subscriptionId: o.eventSubscriptionId, redeliver: o.eventWsRedeliver, heartbeatTimeoutMs: o.eventWsHeartbeatTimeoutMs });
    this.webhooks.onEvent = (event, body) => this.eventWs.publish(event, body);
    this.rtms = new RtmsEngine(
      {
        clientId: o.clientId,
        clientSecret: o.clientSecret,
        sdkKey: o.sdkKey,
        sdkSecret: o.sdkSecret,
        keepAliveIntervalMs: o.keepAliveIntervalMs,
        keepAliveMissLimit: o.keepAliveMissLimit,
        signalingReconnectWindowMs: o.signalingReconnectWindowMs,
        mediaReconnectWindowMs: o.mediaReconnectWindowMs,
        mediaSplit: o.mediaSplit,
        mediaScopes: o.mediaScopes,
        shareChatUrls: o.shareChatUrls,
        sessionStateReasonField: o.sessionStateReasonField,
        tickMs: o.tickMs,
        videoScale: o.videoScale,
        videoGrain: o.videoGrain,
        mediaEncoding: o.mediaEncoding,
        accountId: o.s2s.accountId,
      },
      { wsBase: () => this.httpBaseUrl.replace(/^http/, 'ws'), webhook: (e, p) => this.sendWebhook(e, p), log: o.log },
    );
    this.faults = new SimulatorFaults(this);
    this.router = new HttpRouter(this, (ms) => this.delay(ms));
    this.server = http.createServer((req, res) => void this.router.handle(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(opts: SimulatorOptions = {}): Promise<ZoomSimulator> {
    const sim = new ZoomSimulator(opts);
    await new Promise<void>((resolve, reject) => {
      sim.server.once('error', reject);
      sim.server.listen(sim.options.port, sim.options.host, () => resolve());
    });
    const addr = sim.server.address() as AddressInfo;
    sim.httpBaseUrl = `http://${sim.options.host}:${addr.port}`;
    sim.oauthBaseUrl = sim.httpBaseUrl;
    sim.apiBaseUrl = `${sim.httpBaseUrl}/v2`;
    sim.eventWsUrl = `ws://${sim.options.host}:${addr.port}/ws`;
    sim.signalingUrl = sim.rtms.signalingUrl(0);
    // A URL configured at start counts as saved: Zoom validates it now and then every interval.
    sim.urlValidationSchedule.saved(sim.webhooks.target);
    sim.options.log(`zoom simulator listening on ${sim.httpBaseUrl}`);
    return sim;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  // ───────────────────────────── scenario API ─────────────────────────────

  get webhookTarget(): string | null {
    return this.webhooks.target;
  }

  /** Save the webhook URL (null = webhooks off). Like Zoom, a saved URL is validated at once and every `urlValidationIntervalMs`. */
  setWebhookTarget(url: string | null): void {
    this.webhooks.target = url;
    this.urlValidationSchedule.saved(url);
  }

  /** The automatic URL validation's state for the current webhook URL. */
  get urlValidation(): UrlValidationStatus {
    return this.urlValidationSchedule.status;
  }

  setAuthorizingUser(user: SimUser | null): void {
    this.oauth.authorizingUser = user ? { account_id: this.options.s2s.accountId, ...user } : null;
  }

  get stats(): OAuthStats {
    return this.oauth.stats;
  }

  expireAccessTokens(): void {
    this.oauth.expireAccessTokens();
  }

  createMeeting(script: MeetingScript = {}): SimMeeting {
    let id = script.meetingId ?? 0;
    while (!id || this.meetings.has(id)) id = 80_000_000_000 + Math.floor(Math.random() * 9_999_999_999);
    const participants = script.participants ?? [
      { userId: 16_778_240, name: 'Alice Example', speaks: [{ atMs: 500, text: 'Hello from Alice.' }], chat: [{ atMs: 1500, text: 'hi all' }] },
      { userId: 16_779_264, name: 'Bob Example', speaks: [{ atMs: 3000, text: 'Hi Alice, Bob here.' }] },
    ];
    const m = new MeetingState(
      id,
      script.uuid ?? randomMeetingUuid(),
      script.topic ?? `Simulated meeting ${id}`,
      script.passcode ?? '123456',
      script.hostUserId ?? DEFAULT_USER.id,
      script.altHostUserIds ?? [],
      script.kind ?? 'meeting',
      Date.now(),
      script.durationMs,
      this.options.speed,
      participants,
    );
    this.meetings.set(id, m);
    return m;
  }

  /** Create a Video SDK session (webhooks `session.*`, `session_id` in the handshake). */
  createSession(script: Omit<MeetingScript, 'kind'> = {}): SimMeeting {
    return this.createMeeting({ ...script, kind: 'session' });
  }

  meeting(idOrUuid: number | string): MeetingState | undefined {
    const n = typeof idOrUuid === 'number' ? idOrUuid : /^\d+$/.test(idOrUuid) ? Number(idOrUuid) : NaN;
    if (!Number.isNaN(n)) return this.meetings.get(n);
    for (const m of this.meetings.values()) if (m.uuid === idOrUuid) return m;
    return undefined;
  }

  /** Add a participant to a live meeting now (joins at the current script time). */
  addParticipant(meetingId: number | string, p: Omit<Participant, 'slot' | 'joinAtMs'>): Participant {
    const m = this.mustMeeting(meetingId);
    return m.add({ ...p, joinAtMs: m.now() });
  }

  removeParticipant(meetingId: number | string, userId: number): void {
    const m = this.mustMeeting(meetingId);
    const p = m.find(userId);
    if (p && p.leaveAtMs === undefined) p.leaveAtMs = m.now();
  }

  /** Ends the meeting: its RTMS streams stop (reason 6, MEETING_ENDED) and, as in Zoom, its Zoom Rooms are out of it. */
  endMeeting(meetingId: number | string): void {
    this.mustMeeting(meetingId).ended = true;
    this.releaseRoomsOfEndedMeetings();
  }

  /**
   * A meeting that ended (endMeeting, or its scripted duration ran out) has no room in it:
   * each such room is Available again, as a real Zoom Room is when its meeting ends. Also
   * run before every rooms API call, for meetings that ended by duration.
   */
  releaseRoomsOfEndedMeetings(): void {
    for (const room of this.rooms.values()) {
      if (room.meetingId === undefined) continue;
      const m = this.meetings.get(room.meetingId);
      if (m && !m.ended) continue;
      const part = room.participantUserId !== undefined ? m?.find(room.participantUserId) : undefined;
      if (m && part && part.leaveAtMs === undefined) part.leaveAtMs = m.now();
      if (room.status === 'InMeeting') room.status = 'Available';
      room.meetingId = undefined;
      room.participantUserId = undefined;
    }
  }

  private mustMeeting(id: number | string): MeetingState {
    const m = this.meeting(id);
    if (!m) throw new Error(`unknown meeting ${id}`);
    return m;
  }

  private startedPayload(s: Stream): Record<string, unknown> {
    const m = s.meeting;
    const account_id = this.options.s2s.accountId;
    if (m.kind === 'session') return { session_id: m.uuid, session_key: m.topic, rtms_stream_id: s.streamId, server_urls: s.serverUrls, account_id };
    if (m.kind === 'webinar')
      return { webinar_uuid: m.uuid, operator_id: s.operatorId, rtms_stream_id: s.streamId, server_urls: s.serverUrls, webinar_id: m.id, account_id, is_original_host: true };
    return { meeting_uuid: m.uuid, operator_id: s.operatorId, rtms_stream_id: s.streamId, server_urls: s.serverUrls, meeting_id: m.id, account_id, is_original_host: true };
  }

  /** Start RTMS for a meeting: new stream and a signed `*.rtms_started` webhook. */
  async startRtms(meetingId: number | string, opts: { operatorId?: string } = {}): Promise<SimStream> {
    const m = this.mustMeeting(meetingId);
    if (m.ended) throw new Error(`meeting ${m.id} has ended`);
    const active = [...this.rtms.streams.values()].filter((s) => !s.terminated).length;
    const limit = this.options.concurrencyLimit;
    const operatorId = opts.operatorId ?? m.hostUserId;
    if (active >= limit) {
      const idField = m.kind === 'session' ? { session_id: m.uuid } : { [m.kind === 'webinar' ? 'webinar_uuid' : 'meeting_uuid']: m.uuid };
      this.sendWebhook('rtms.concurrency_limited', { operator_id: operatorId, concurrency_number: active, ...idField });
      throw new Error('RTMS concurrency limit reached');
    }
    const s = this.rtms.createStream(m, operatorId);
    if ((active + 1) / limit > 0.8)
      this.sendWebhook('rtms.concurrency_near_limit', { concurrency_limit: limit, concurrency_number: active + 1, percentage: Math.round(((active + 1) * 100) / limit) });
    this.sendWebhook(`${this.rtms.eventPrefix(m)}.rtms_started`, this.startedPayload(s));
    return s;
  }

  stream(streamId: string): Stream | undefined {
    return this.rtms.streams.get(streamId);
  }

  /** Streams of a meeting (newest last). */
  streamsOf(meetingId: number | string): Stream[] {
    const m = this.mustMeeting(meetingId);
    return [...this.rtms.streams.values()].filter((s) => s.meeting === m);
  }

  private mustStream(id: string): Stream {
    const s = this.rtms.streams.get(id);
    if (!s) throw new Error(`unknown stream ${id}`);
    return s;
  }

  async stopRtms(streamId: string, stopReason: number = StopReason.MANUAL_API_TRIGGERED): Promise<void> {
    this.rtms.terminate(this.mustStream(streamId), stopReason);
  }

  pauseRtms(streamId: string): void {
    this.rtms.pause(this.mustStream(streamId));
  }

  resumeRtms(streamId: string): void {
    this.rtms.resume(this.mustStream(streamId));
  }

  /** Send a failover `rtms_started` (same stream id, new server_urls); used by faults.failover. */
  failover(streamId: string): string {
    const s = this.mustStream(streamId);
    const url = this.rtms.failover(s);
    this.sendWebhook(`${this.rtms.eventPrefix(s.meeting)}.rtms_started`, this.startedPayload(s));
    return url;
  }

  record(streamId: string): StreamRecord {
    return this.rtms.record(streamId);
  }

  get webhookLog(): DeliveredWebhook[] {
    return this.webhooks.log;
  }

  get eventWsDeliveries(): EventWsDelivery[] {
    return this.eventWs.deliveries;
  }

  get eventWsStats() {
    return this.eventWs.stats;
  }

  /** Send any event as a signed webhook (and over the event WebSocket). Returns the body. */
  sendWebhook(event: string, payload: Record<string, unknown>, opts: SendOptions = {}): string {
    return this.webhooks.send(event, payload, opts);
  }

  /** Send `endpoint.url_validation` now and check the receiver's answer (also updates `urlValidation`). */
  validateUrl(plainToken = 'sim' + Math.random().toString(36).slice(2, 12)): Promise<UrlValidationResult> {
    const url = this.webhooks.target;
    if (!url) return Promise.reject(new Error('no webhook target set'));
    return this.urlValidationSchedule.run(url, plainToken);
  }

  addRoom(room: { id?: string; name: string; status?: SimRoom['status']; locationId?: string }): SimRoom {
    const id = room.id ?? 'room_' + Math.random().toString(36).slice(2, 12);
    const r: SimRoom = {
      id,
      room_id: id,
      name: room.name,
      status: room.status ?? 'Available',
      location_id: room.locationId ?? 'sim_location_1',
      activation_code: String(100000 + this.rooms.size),
      tag_ids: [],
    };
    this.rooms.set(id, r);
    return r;
  }

  async waitFor<T>(predicate: () => T | undefined | false | null, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = predicate();
      if (v !== undefined && v !== false && v !== null) return v;
      if (Date.now() > deadline) throw new Error(`waitFor timed out after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          this.pendingTimers.delete(t);
          r();
        }, 10);
        this.pendingTimers.add(t);
      });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.rtms.close();
    this.eventWs.close();
    this.urlValidationSchedule.close();
    this.webhooks.close();
    for (const t of this.pendingTimers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ───────────────────────────── HTTP ─────────────────────────────

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    socket.on('error', () => undefined);
    if (url.pathname === '/ws') return this.eventWs.handleUpgrade(req, socket, head, url);
    if (this.rtms.handleUpgrade(req, socket, head, url.pathname)) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  }

  private delay(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.pendingTimers.delete(t);
        r();
      }, ms);
      this.pendingTimers.add(t);
    });
  }
}
