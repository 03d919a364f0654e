/** Public types of the Zoom simulator. */
import type { MediaKind } from './protocol';

export type MediaEncoding = 'prebuilt' | 'json';

export interface SimulatorOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (ephemeral)
  /** RTMS / OAuth (General) app; the client secret signs the RTMS handshake. */
  clientId?: string;
  clientSecret?: string;
  /** Video SDK app: its SDK key and secret sign the RTMS handshake of Video SDK sessions (default sim_sdk_key / sim_sdk_secret). */
  sdkKey?: string;
  sdkSecret?: string;
  webhookSecretToken?: string;
  /** Server-to-Server app (account_credentials grant, Zoom Rooms). */
  s2s?: { clientId: string; clientSecret: string; accountId: string };
  /** App whose client_credentials token opens the event WebSocket (defaults to clientId/clientSecret). */
  generalApp?: { clientId: string; clientSecret: string };
  /** Exact redirect URIs allowed at /oauth/authorize. Empty = any http(s) URI (then matched exactly at /oauth/token). */
  redirectUris?: string[];
  accessTokenTtlSec?: number; // 3600
  keepAliveIntervalMs?: number; // 10000
  keepAliveMissLimit?: number; // 3
  signalingReconnectWindowMs?: number; // 60000
  mediaReconnectWindowMs?: number; // 30000
  webhookTimeoutMs?: number; // 3000
  webhookRetryDelaysMs?: number[]; // [300000, 1200000, 3600000]
  webhookUrl?: string | null;
  /**
   * Send `endpoint.url_validation` on its own, as Zoom does: when the webhook URL is set or
   * changed, and every `urlValidationIntervalMs` (default true). false: only `sim.validateUrl()`.
   */
  autoUrlValidation?: boolean;
  /** Time between automatic URL validations (default 259200000 = 72 h, Zoom's). */
  urlValidationIntervalMs?: number;
  /** Event WebSocket subscription id accepted at /ws (default 'sim-subscription-id'). */
  eventSubscriptionId?: string;
  /**
   * Keep events while no event-WS client is connected and deliver them on connect. Default
   * false, as Zoom does today (it removed the stored-event behaviour: an event sent while no
   * client is connected is gone); true plays the old behaviour.
   */
  eventWsRedeliver?: boolean;
  /** Close an event-WS connection that sent no heartbeat for this long (default 90000; 0 = never). */
  eventWsHeartbeatTimeoutMs?: number;
  /** Which media URLs msg 2 offers: per type AND `all` (default), only `all`, only per type. */
  mediaSplit?: 'both' | 'all' | 'split';
  /** Media types the app "has scopes for" (default all five). Others are absent from msg 2 and refused (9–13). */
  mediaScopes?: MediaKind[];
  /**
   * Per-type URLs in msg 2 also for deskshare and chat (default false: as rtms-protocol.md §2
   * documents, only audio, video and transcript get a key of their own; deskshare and chat
   * are reached through `all`).
   */
  shareChatUrls?: boolean;
  /**
   * The field msg 9 (SESSION_STATE_UPDATE) names its stop reason with: 'stop_reason' (default, as
   * rtms-protocol.md §4 documents the body) or 'reason' (the name the docs' field table uses, ⚠):
   * lets a test check that a client reads both.
   */
  sessionStateReasonField?: 'stop_reason' | 'reason';
  /** Meeting-script time runs this many times faster than the wall clock (default 1). */
  speed?: number;
  /** Media scheduler tick in real ms (default 20). */
  tickMs?: number;
  /** Scale video frame pixel sizes (e.g. 0.25 for load tests; default 1). */
  videoScale?: number;
  /** Camera-like grain in video frames, so a JPEG has a real camera's size rather than a flat picture's (default false). */
  videoGrain?: boolean;
  /**
   * How media messages are serialised: 'prebuilt' (default) encodes each (payload, user) once and
   * patches the timestamp digits, and writes a tick's messages for a socket in one syscall;
   * 'json' stringifies every message and writes it on its own. The bytes on the wire are the same.
   */
  mediaEncoding?: MediaEncoding;
  /** Requests per second per account on /v2/rooms endpoints (default unlimited). */
  roomsRateLimitPerSec?: number;
  /** RTMS concurrent stream limit per app (default 2000); >80 % sends rtms.concurrency_near_limit. */
  concurrencyLimit?: number;
  /** Serve the /_sim control API (default true). */
  controlApi?: boolean;
  /** Log lines (default: silent). */
  logger?: (line: string) => void;
}

export interface SimUser {
  id: string;
  email: string;
  first_name: string;
  last_name: string;
  account_id?: string;
}

export interface SpeechLine {
  atMs: number;
  text: string;
  durationMs?: number; // default 2000
  language?: number; // transcript language code (default: requested src_language, else 9 English)
}

export interface ChatLine {
  atMs: number;
  text: string;
}

export interface ParticipantScript {
  userId: number;
  name: string;
  joinAtMs?: number; // default 0
  leaveAtMs?: number;
  /** Camera on from join unless false. */
  camera?: boolean;
  /** Camera toggles: at each time the camera state flips to `on`. */
  cameraSchedule?: Array<{ atMs: number; on: boolean }>;
  /** No audio at all. */
  muted?: boolean;
  speaks?: SpeechLine[];
  shares?: Array<{ fromMs: number; toMs: number }>;
  chat?: ChatLine[];
}

export interface MeetingScript {
  meetingId?: number;
  uuid?: string;
  topic?: string;
  passcode?: string;
  hostUserId?: string;
  altHostUserIds?: string[];
  /** Meeting ends (streams stop with reason 6) after this long; default: never. */
  durationMs?: number;
  participants?: ParticipantScript[];
  /** webinar: webhooks use webinar.* with webinar_uuid; session: Video SDK (session.*, session_id). */
  kind?: 'meeting' | 'webinar' | 'session';
}

export interface SimMeeting {
  id: number;
  uuid: string;
  topic: string;
  passcode: string;
  hostUserId: string;
  kind: 'meeting' | 'webinar' | 'session';
  participants: ParticipantScript[];
  createdAt: number;
  ended: boolean;
}

export interface SimStream {
  streamId: string;
  meetingId: number;
  meetingUuid: string;
  operatorId: string;
  serverUrls: string;
  sessionId: string;
}

export type SocketKind = 'signaling' | 'media';

export interface ConnectionRecord {
  id: number;
  kind: SocketKind;
  path: string;
  mediaPath?: 'all' | MediaKind;
  openedAt: number;
  handshakeStatus?: number;
  closedAt?: number;
  closeCode?: number;
  closeReason?: string;
  closedBy?: 'server' | 'client';
  disconnectReason?: string;
}

export interface HandshakeRecord {
  at: number;
  socket: SocketKind;
  path: string;
  statusCode: number;
  reason: string;
  request: unknown;
}

export interface KeepAliveStats {
  sent: number;
  answered: number;
  latenciesMs: number[];
}

export interface StreamRecord {
  streamId: string;
  meetingId?: number;
  meetingUuid?: string;
  state: 'started' | 'active' | 'paused' | 'interrupted' | 'terminated' | 'unknown';
  stopReason?: number;
  handshakes: HandshakeRecord[];
  readyAcks: Array<{ at: number; valid: boolean }>;
  keepAlives: { signaling: KeepAliveStats; media: KeepAliveStats };
  /** Messages the simulator sent, by msg_type, and per user id (media and events). */
  messagesSent: { byType: Record<number, number>; byUser: Record<string, Record<number, number>> };
  messagesReceived: { byType: Record<number, number>; invalid: number };
  subscriptions: number[];
  connections: ConnectionRecord[];
  live: { signaling: number; media: Record<'all' | MediaKind, number> };
  maxLiveSignaling: number;
  maxLiveMedia: number;
  disconnects: Array<{ at: number; kind: SocketKind; reason: string }>;
  notes: Array<{ at: number; note: string }>;
}

export interface DeliveredWebhook {
  deliveryId: number;
  event: string;
  body: string;
  url: string;
  attempt: number;
  status: number | null;
  error?: string;
  latencyMs: number;
  at: number;
  /** `endpoint.url_validation` only: whether the answer carried the right encryptedToken. */
  validated?: boolean;
}

/** The answer to one `endpoint.url_validation`. */
export interface UrlValidationResult {
  /** 200 with the same plainToken and encryptedToken = hex HMAC-SHA256(secret, plainToken). */
  ok: boolean;
  status: number | null;
  body: unknown;
  error?: string;
}

/** The automatic URL validation's state for the current webhook URL (`sim.urlValidation`, GET /_sim/url-validation). */
export interface UrlValidationStatus {
  url: string | null;
  automatic: boolean;
  intervalMs: number;
  /** true after a good answer, false after a bad one, null before the first answer for this URL. */
  validated: boolean | null;
  attempts: number;
  consecutiveFailures: number;
  lastAttemptAt: number | null;
  /** Last good answer. */
  lastValidatedAt: number | null;
  lastResult: { ok: boolean; status: number | null; error?: string } | null;
  /** When the next automatic validation is due (null: none armed). */
  nextAt: number | null;
}

export interface RestCall {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

export interface EventWsDelivery {
  at: number;
  event: string;
  content: string;
}
