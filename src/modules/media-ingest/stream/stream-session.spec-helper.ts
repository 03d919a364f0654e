import type { RtmsIngestConfig } from '../../../config/app.config';
import type { CapturePolicy, MediaTypeName } from '../../sessions';
import { StreamSession, StreamSessionDeps } from './stream-session';

/**
 * A StreamSession for unit tests against a stand-in Zoom on loopback: Zoom's reconnect
 * windows, short backoffs, and every collaborator a no-op unless the test hands its own.
 */
const INGEST_CONFIG = {
  mediaSocketMode: 'all',
  keepAliveTimeoutMs: 65_000,
  signalingReconnectWindowMs: 55_000,
  mediaReconnectWindowMs: 25_000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 1000,
  handshakeTimeoutMs: 3000,
  maxMessageBytes: 1024 * 1024,
  maxSignalingMessageBytes: 1024 * 1024,
} as RtmsIngestConfig;

/** Metrics that count nothing (any counter, histogram or gauge, with or without labels). */
const noMetrics: unknown = new Proxy(() => undefined, { get: (_t, p) => (p === 'then' ? undefined : noMetrics), apply: () => noMetrics });

export type Note = [type: string, payload: Record<string, unknown>];

export interface TestSessionOptions {
  /** The stand-in Zoom's base URL; signaling is dialed at `<base>/signaling`. */
  zoomBase: string;
  mediaTypes?: MediaTypeName[];
  config?: Partial<RtmsIngestConfig>;
  findByStreamId?: () => Promise<null>;
  /** Where the session's timeline notes go (default: nowhere). */
  notes?: Note[];
}

export function testStreamSession(opts: TestSessionOptions): StreamSession {
  const mediaTypes = opts.mediaTypes ?? ['audio'];
  const deps = {
    config: { ...INGEST_CONFIG, ...opts.config },
    urlPolicy: { allowedHosts: ['127.0.0.1'], allowInsecureWs: true },
    streams: { findByStreamId: opts.findByStreamId ?? (async () => null) },
    recorder: {
      runtime: () => undefined,
      note: async (_ref: unknown, type: string, payload: Record<string, unknown>) => void opts.notes?.push([type, payload]),
      event: async () => undefined,
      streamState: async () => undefined,
      sessionState: async () => undefined,
      reconnect: () => undefined,
      counts: () => undefined,
      ended: () => undefined,
      settled: async () => true,
    },
    metrics: noMetrics,
    media: { mediaReconnecting: () => undefined, close: async () => undefined, add: () => undefined, stats: { filtered: 0 } },
    liveText: { append: () => undefined },
    lease: { watch: () => undefined, stop: () => undefined, renewed: () => undefined },
    workerId: 'w1',
    onFirstMediaHandshake: async () => undefined,
  } as unknown as StreamSessionDeps;
  const policy = { media_types: mediaTypes, include_user_ids: [], exclude_user_ids: [] } as unknown as CapturePolicy;
  return new StreamSession(
    { sessionId: 's1', rtmsStreamId: 'st1', identity: { meetingIdentity: 'm==', rtmsStreamId: 'st1', signature: 'sig' }, serverUrls: `${opts.zoomBase}/signaling`, policy, mediaTypes, mediaParams: {}, takeover: false },
    deps,
  );
}
