/** Simulator options with every default filled in (the defaults are documented on SimulatorOptions). */
import { MEDIA_KINDS, type MediaKind } from './protocol';
import type { MediaEncoding, SimulatorOptions } from './types';

export interface ResolvedOptions {
  host: string;
  port: number;
  clientId: string;
  clientSecret: string;
  sdkKey: string;
  sdkSecret: string;
  webhookSecretToken: string;
  s2s: { clientId: string; clientSecret: string; accountId: string };
  generalApp: { clientId: string; clientSecret: string };
  redirectUris: string[];
  accessTokenTtlSec: number;
  keepAliveIntervalMs: number;
  keepAliveMissLimit: number;
  signalingReconnectWindowMs: number;
  mediaReconnectWindowMs: number;
  webhookTimeoutMs: number;
  webhookRetryDelaysMs: number[];
  autoUrlValidation: boolean;
  urlValidationIntervalMs: number;
  eventSubscriptionId: string;
  eventWsRedeliver: boolean;
  eventWsHeartbeatTimeoutMs: number;
  mediaSplit: 'both' | 'all' | 'split';
  mediaScopes: MediaKind[];
  shareChatUrls: boolean;
  sessionStateReasonField: 'stop_reason' | 'reason';
  speed: number;
  tickMs: number;
  videoScale: number;
  videoGrain: boolean;
  mediaEncoding: MediaEncoding;
  roomsRateLimitPerSec: number;
  concurrencyLimit: number;
  controlApi: boolean;
  log: (line: string) => void;
}

export function resolveOptions(opts: SimulatorOptions): ResolvedOptions {
  const clientId = opts.clientId ?? 'sim_client_id';
  const clientSecret = opts.clientSecret ?? 'sim_client_secret';
  return {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    clientId,
    clientSecret,
    sdkKey: opts.sdkKey ?? 'sim_sdk_key',
    sdkSecret: opts.sdkSecret ?? 'sim_sdk_secret',
    webhookSecretToken: opts.webhookSecretToken ?? 'sim_webhook_secret_token',
    s2s: opts.s2s ?? { clientId: 'sim_s2s_client_id', clientSecret: 'sim_s2s_client_secret', accountId: 'sim_account_id' },
    generalApp: opts.generalApp ?? { clientId, clientSecret },
    redirectUris: opts.redirectUris ?? [],
    accessTokenTtlSec: opts.accessTokenTtlSec ?? 3600,
    keepAliveIntervalMs: opts.keepAliveIntervalMs ?? 10_000,
    keepAliveMissLimit: opts.keepAliveMissLimit ?? 3,
    signalingReconnectWindowMs: opts.signalingReconnectWindowMs ?? 60_000,
    mediaReconnectWindowMs: opts.mediaReconnectWindowMs ?? 30_000,
    webhookTimeoutMs: opts.webhookTimeoutMs ?? 3000,
    webhookRetryDelaysMs: opts.webhookRetryDelaysMs ?? [300_000, 1_200_000, 3_600_000],
    autoUrlValidation: opts.autoUrlValidation ?? true,
    urlValidationIntervalMs: opts.urlValidationIntervalMs ?? 72 * 3600_000,
    eventSubscriptionId: opts.eventSubscriptionId ?? 'sim-subscription-id',
    eventWsRedeliver: opts.eventWsRedeliver ?? false,
    eventWsHeartbeatTimeoutMs: opts.eventWsHeartbeatTimeoutMs ?? 90_000,
    mediaSplit: opts.mediaSplit ?? 'both',
    mediaScopes: opts.mediaScopes ?? [...MEDIA_KINDS],
    shareChatUrls: opts.shareChatUrls ?? false,
    sessionStateReasonField: opts.sessionStateReasonField ?? 'stop_reason',
    speed: opts.speed ?? 1,
    tickMs: opts.tickMs ?? 20,
    videoScale: opts.videoScale ?? 1,
    videoGrain: opts.videoGrain ?? false,
    mediaEncoding: opts.mediaEncoding ?? 'prebuilt',
    roomsRateLimitPerSec: opts.roomsRateLimitPerSec ?? 0,
    concurrencyLimit: opts.concurrencyLimit ?? 2000,
    controlApi: opts.controlApi ?? true,
    log: opts.logger ?? (() => undefined),
  };
}
