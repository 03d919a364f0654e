import { hostname, tmpdir } from 'node:os';
import { QueueName } from '../jobs/queue-names';
import type { CapturePolicy, MediaTypeName, VideoFormat, VideoResolution } from '../modules/sessions';
import { ApiKeyEntry, parseApiKeys } from './api-keys';
import { ComposeVideoPreset, EnvironmentVariables, validateEnvironment } from './env.validation';
import { EncryptionKey, parseKeyring } from './keyring';
import { queuePrefix, RedisTopology, redisTopology } from './redis-topology';

export type NodeEnv = 'development' | 'production' | 'test';

/** RTMS stream workers: reconnection windows, keep-alive timeout, media sockets, batching. */
export interface RtmsIngestConfig {
  /** One `all` media socket, or one socket per media type. */
  mediaSocketMode: 'all' | 'split';
  /** No keep-alive on signaling for this long → redo the signaling handshake (Zoom: 65 s). */
  keepAliveTimeoutMs: number;
  /** Give up reconnecting signaling after this long (Zoom waits ~60 s). */
  signalingReconnectWindowMs: number;
  /** Give up reconnecting media after this long (Zoom waits ~30 s). */
  mediaReconnectWindowMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  handshakeTimeoutMs: number;
  /**
   * Largest RTMS media message: a larger one closes the socket (1009, before it is
   * buffered) and the media reconnects.
   */
  maxMessageBytes: number;
  /** The same for signaling, which carries no media. */
  maxSignalingMessageBytes: number;
  batchMaxItems: number;
  batchMaxBytes: number;
  batchFlushMs: number;
  /** Non-audio media held in memory at most while the queue is unreachable; past it, it spills to disk. */
  batchMaxBufferedBytes: number;
  /** Disk budget of the media spill (under the spool dir); past it, media is dropped (frames first) and counted. 0: no spill. */
  batchSpillMaxBytes: number;
  /** H.264 capture: a segment is cut at the first keyframe once it is this long (ms). */
  h264SegmentMs: number;
  /** H.264 capture: a segment never grows past this many bytes (cut at the next keyframe, or closed). */
  h264SegmentMaxBytes: number;
  /** The audio spool writes every stream's waiting PCM this often (ms). */
  audioFlushMs: number;
  /** PCM waiting for the database beyond this many bytes is dropped (and counted). */
  audioSpoolMaxBytes: number;
  /** PCM of open audio segments kept in memory for their WAVs, per process; past it the oldest parts are read back from the spool file. */
  audioCacheMaxBytes: number;
  /** Audio packet length requested in media_params (send_rate, ms; Zoom: multiples of 20). */
  audioSendRateMs: number;
  /** Stream observations (events, participants, status) waiting for Postgres in one process, at most; beyond it the oldest are dropped (and counted). */
  observationBufferMax: number;
}

export interface ZoomEventWsConfig {
  /** Base URL, e.g. wss://ws.zoom.us/ws (subscriptionId and access_token are appended). */
  url: string;
  subscriptionId: string;
  /** App whose client_credentials token opens the socket (ZOOM_EVENT_WS_CLIENT_* or ZOOM_CLIENT_*). */
  clientId?: string;
  clientSecret?: string;
  heartbeatMs: number;
  /** Reconnect when nothing (not even a heartbeat answer) arrived for this long. */
  idleTimeoutMs: number;
  leaseTtlMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/** The hub's whole configuration, typed; read it through ConfigService<AppConfig, true>. */
export interface AppWebhooksConfig {
  /** One attempt's limit (WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** Seconds before each attempt: [0] before the first, [1] between the first and the second… */
  retryScheduleSec: number[];
  /** An endpoint whose deliveries have all failed for this long is disabled. */
  disableAfterMs: number;
  /** How long a rotated-out secret keeps signing beside the new one. */
  secretRotationOverlapSec: number;
  /** http:// and private/loopback addresses allowed (never in production). */
  allowPrivateUrls: boolean;
  /** Attempts in flight to one endpoint at once, across every process (0 = no cap); the others wait without using an attempt. */
  endpointMaxInFlight: number;
}

/** Live fan-out to app clients (docs/live.md). */
export interface LiveConfig {
  /** How far back a client can resume text (events, transcript, chat): the Redis log's window. */
  resumeWindowSec: number;
  /** Bytes waiting to be sent to one client beyond which its media is dropped and, for text, it is cut. */
  clientBufferBytes: number;
  /** Server pings every client this often; one that missed the previous ping is dropped. */
  pingIntervalMs: number;
  /** Lifetime of a browser ticket from POST /api/v1/live/tickets (single use). */
  ticketTtlSec: number;
  /** A media subscription registered in Redis lives this long unless its API process refreshes it (every third of it). */
  registryTtlMs: number;
  /** Stream workers re-read the media subscription registry this often (and at once on a change notice). */
  registryPollMs: number;
  /** Subscriptions one client may hold at once. */
  maxSubscriptionsPerClient: number;
}

export interface AppConfig {
  nodeEnv: NodeEnv;
  http: {
    port: number;
    bodyLimit: string;
    openApiEnabled: boolean;
  };
  /** Bull Board (/admin/queues): read-only refuses every state change. */
  bullBoard: { readOnly: boolean };
  /** The session console (/console): idle lifetime of a login. */
  console: { sessionTtlSec: number };
  log: { level: string };
  database: { url: string; poolSize: number };
  /** Where Redis is (one server, Sentinel or Cluster): every connection is built from it. */
  redis: RedisTopology;
  queues: {
    prefix: string;
    /** Raw WORKER_QUEUES; parsed by the worker entrypoint (empty = all). */
    workerQueues: string;
    concurrency: Record<QueueName, number>;
    attempts: number;
    backoffMs: number;
    keepCompleted: number;
    keepFailed: number;
    /** Failed media batch jobs kept (with their media, for Bull Board's Retry) per queue. */
    keepFailedMedia: number;
  };
  shutdownTimeoutMs: number;
  auth: {
    /** Parsed API_KEYS: name, role, secret, owner tag. */
    apiKeys: ApiKeyEntry[];
    adminUsername?: string;
    adminPassword?: string;
  };
  zoom: {
    clientId?: string;
    clientSecret?: string;
    /** Video SDK app: its SDK key and secret sign the RTMS handshakes of Video SDK sessions. */
    sdkKey?: string;
    sdkSecret?: string;
    webhookSecretTokens: string[];
    redirectUri?: string;
    s2sClientId?: string;
    s2sClientSecret?: string;
    accountId?: string;
    apiBaseUrl: string;
    oauthBaseUrl: string;
    /** Timeout of every HTTP call to Zoom (OAuth and REST). */
    httpTimeoutMs: number;
  };
  oauth: {
    /** Lifetime of an authorize `state` (single use). */
    stateTtlSec: number;
    /** URLs (origin + optional path prefix) a `redirect_after` may point to. */
    redirectAllowlist: string[];
  };
  rtms: {
    /** Host patterns (`*.zoom.us`, exact hosts) the hub may open RTMS sockets to. */
    allowedHosts: string[];
    /** Allow ws:// (the local simulator); never in production. */
    allowInsecureWs: boolean;
    /** Stream workers (docs/media-ingest.md). */
    ingest: RtmsIngestConfig;
    /** Balancing and draining stream workers (docs/operations.md). */
    workers: {
      /** Streams a worker may hold above its even share. */
      balanceSlack: number;
      /** Pause between two streams a draining worker hands over. */
      drainIntervalMs: number;
      /** A spool host silent this long has its open audio segments recorded as lost. */
      spoolHostLostAfterMs: number;
    };
  };
  webhooks: { timestampToleranceSeconds: number };
  /** Outbound webhooks to apps (docs/webhooks.md). */
  appWebhooks: AppWebhooksConfig;
  /** Live fan-out over WebSocket and SSE (docs/live.md). */
  live: LiveConfig;
  /** Zoom's event WebSocket (second event source); null unless URL + subscription id are set. */
  zoomEventWs: ZoomEventWsConfig | null;
  /** Zoom Rooms dispatch (docs/zoom-rooms.md). */
  zoomRooms: {
    /** The account's rooms API limit (req/s, shared by every process); calls are spaced 10 % below it. */
    rateLimitPerSec: number;
    /** GET /api/v1/zoom-rooms answers from a Redis cache this long (0 = no cache). */
    listCacheSec: number;
    /** page_size of GET /v2/rooms (Zoom allows up to 300). */
    pageSize: number;
    /** Attempts of room.join / room.leave on 5xx and network errors (429s do not count). */
    attempts: number;
    /** First exponential backoff delay of those retries. */
    backoffMs: number;
    defaultLeaveAfterSec: number;
    /** 429 answers one job tolerates before it fails. */
    maxThrottled: number;
  };
  /** Defaults for any capture-policy field a session does not set. */
  capture: CapturePolicy;
  crypto: {
    tokenEncryptionKeys: string;
    /** Parsed TOKEN_ENCRYPTION_KEYS, newest (encrypting) key first. */
    keyring: EncryptionKey[];
  };
  /**
   * Default retention, in days after a session ends (from its creation if it never
   * streamed); a session's capture_policy.retention overrides each. 0 = keep forever.
   */
  retention: {
    mediaDays: number;
    transcriptDays: number;
    eventsDays: number;
    /** Zoom events never linked to a session (and other unlinked timeline rows), days after they were stored. */
    unlinkedEventsDays: number;
    /** App events (the outbox), days after they were recorded. */
    appEventsDays: number;
    /** Finished webhook messages (and their attempts), days after they were created. */
    webhookMessagesDays: number;
    /** Finished Zoom Room dispatches (left, failed, cancelled), days after their last update. */
    roomDispatchesDays: number;
    sweepIntervalMs: number;
    batchSize: number;
  };
  /** Composed recordings (docs/recordings.md): the media-compose job that builds recording.mp4. */
  recordings: {
    /** Default of a session's capture_policy.recording.compose (COMPOSE_RECORDINGS). */
    compose: boolean;
    /** The recording's video frame (the active speaker scaled and padded into it). */
    width: number;
    height: number;
    fps: number;
    /** Where the compose job downloads a session's media and writes the MP4 (removed after each job). */
    workDir: string;
  };
  storage: {
    driver: 'local' | 's3';
    localDir: string;
    s3: { bucket?: string; prefix: string; region: string; endpoint?: string; forcePathStyle: boolean; accessKeyId?: string; secretAccessKey?: string };
    /** Open audio segments idle this long are finalized into WAV. */
    audioIdleFinalizeMs: number;
    /** How long after a session ends recording.ready waits for media still in flight before it is announced with what is there. */
    recordingReadyMaxWaitMs: number;
    /** Where stream workers spool audio PCM until its WAV segment is written (local disk, persistent). */
    audioSpoolDir: string;
    /** This machine's name for spooled audio (a segment's WAV is written on the host that spooled it). */
    spoolHost: string;
    /**
     * Media batches whose storage is unavailable wait (as delayed jobs) this long from
     * their first failure, retried with base·2ⁿ backoff capped at maxDelayMs, while the
     * bytes waiting stay under pendingMaxBytes; then they are recorded as lost.
     */
    retry: { windowMs: number; baseMs: number; maxDelayMs: number; pendingMaxBytes: number };
    /** How long a readiness write probe of storage is reused. */
    probeCacheMs: number;
    /** While media waits for storage, one process logs how much every this often. */
    outageLogIntervalMs: number;
  };
  /** The ffmpeg compose engine (docs/recordings.md): where ffmpeg and ffprobe are, and x264's preset and CRF. */
  composeEngine: { ffmpegPath: string; ffprobePath: string; videoPreset: ComposeVideoPreset; videoCrf: number };
}

const list = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const stripSlash = (url: string): string => url.replace(/\/+$/, '');

export function buildAppConfig(env: EnvironmentVariables): AppConfig {
  return {
    nodeEnv: (env.NODE_ENV ?? 'development') as NodeEnv,
    http: {
      port: env.PORT ?? 3000,
      bodyLimit: env.BODY_LIMIT ?? '1mb',
      openApiEnabled: env.OPENAPI_ENABLED ?? true,
    },
    bullBoard: { readOnly: env.BULL_BOARD_READ_ONLY ?? false },
    console: { sessionTtlSec: env.CONSOLE_SESSION_TTL_SEC ?? 3600 },
    log: { level: env.LOG_LEVEL ?? 'info' },
    database: { url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE ?? 10 },
    redis: redisTopology(env),
    queues: {
      prefix: queuePrefix(env),
      workerQueues: env.WORKER_QUEUES ?? '',
      concurrency: {
        [QueueName.ZoomEvents]: env.CONCURRENCY_ZOOM_EVENTS ?? 10,
        [QueueName.RtmsControl]: env.CONCURRENCY_RTMS_CONTROL ?? 5,
        [QueueName.RtmsStreams]: env.CONCURRENCY_RTMS_STREAMS ?? 100,
        [QueueName.MediaFrames]: env.CONCURRENCY_MEDIA_FRAMES ?? 8,
        [QueueName.ZoomRooms]: env.CONCURRENCY_ZOOM_ROOMS ?? 5,
        [QueueName.OAuth]: env.CONCURRENCY_OAUTH ?? 5,
        [QueueName.AppWebhooks]: env.CONCURRENCY_APP_WEBHOOKS ?? 50,
        [QueueName.Maintenance]: env.CONCURRENCY_MAINTENANCE ?? 2,
        // ffmpeg is CPU-heavy: one composition per worker process unless told otherwise.
        [QueueName.MediaCompose]: env.CONCURRENCY_MEDIA_COMPOSE ?? 1,
      },
      attempts: env.JOB_ATTEMPTS ?? 5,
      backoffMs: env.JOB_BACKOFF_MS ?? 1000,
      keepCompleted: env.JOB_KEEP_COMPLETED ?? 1000,
      keepFailed: env.JOB_KEEP_FAILED ?? 5000,
      keepFailedMedia: env.JOB_KEEP_FAILED_MEDIA ?? 100,
    },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS ?? 25000,
    auth: {
      apiKeys: parseApiKeys(env.API_KEYS),
      adminUsername: env.ADMIN_USERNAME,
      adminPassword: env.ADMIN_PASSWORD,
    },
    zoom: {
      clientId: env.ZOOM_CLIENT_ID,
      clientSecret: env.ZOOM_CLIENT_SECRET,
      sdkKey: env.ZOOM_SDK_KEY,
      sdkSecret: env.ZOOM_SDK_SECRET,
      webhookSecretTokens: list(env.ZOOM_WEBHOOK_SECRET_TOKEN),
      redirectUri: env.ZOOM_REDIRECT_URI,
      s2sClientId: env.ZOOM_S2S_CLIENT_ID,
      s2sClientSecret: env.ZOOM_S2S_CLIENT_SECRET,
      accountId: env.ZOOM_ACCOUNT_ID,
      apiBaseUrl: stripSlash(env.ZOOM_API_BASE_URL ?? 'https://api.zoom.us/v2'),
      oauthBaseUrl: stripSlash(env.ZOOM_OAUTH_BASE_URL ?? 'https://zoom.us'),
      httpTimeoutMs: env.ZOOM_HTTP_TIMEOUT_MS ?? 10000,
    },
    oauth: {
      stateTtlSec: env.OAUTH_STATE_TTL_SEC ?? 600,
      redirectAllowlist: list(env.OAUTH_REDIRECT_ALLOWLIST),
    },
    rtms: {
      allowedHosts: list(env.RTMS_ALLOWED_HOSTS ?? '*.zoom.us'),
      allowInsecureWs: env.RTMS_ALLOW_INSECURE_WS ?? false,
      ingest: {
        mediaSocketMode: (env.RTMS_MEDIA_SOCKET_MODE ?? 'all') as 'all' | 'split',
        keepAliveTimeoutMs: env.RTMS_KEEPALIVE_TIMEOUT_MS ?? 65000,
        signalingReconnectWindowMs: env.RTMS_SIGNALING_RECONNECT_WINDOW_MS ?? 55000,
        mediaReconnectWindowMs: env.RTMS_MEDIA_RECONNECT_WINDOW_MS ?? 25000,
        reconnectBaseMs: env.RTMS_RECONNECT_BASE_MS ?? 500,
        reconnectMaxMs: env.RTMS_RECONNECT_MAX_MS ?? 5000,
        handshakeTimeoutMs: env.RTMS_HANDSHAKE_TIMEOUT_MS ?? 10000,
        maxMessageBytes: env.RTMS_MAX_MESSAGE_BYTES ?? 8 * 1024 * 1024,
        maxSignalingMessageBytes: env.RTMS_MAX_SIGNALING_MESSAGE_BYTES ?? 1024 * 1024,
        batchMaxItems: env.MEDIA_BATCH_MAX_ITEMS ?? 50,
        batchMaxBytes: env.MEDIA_BATCH_MAX_BYTES ?? 4 * 1024 * 1024,
        batchFlushMs: env.MEDIA_BATCH_FLUSH_MS ?? 250,
        batchMaxBufferedBytes: env.MEDIA_BATCH_MAX_BUFFERED_BYTES ?? 64 * 1024 * 1024,
        batchSpillMaxBytes: env.MEDIA_BATCH_SPILL_MAX_BYTES ?? 1024 * 1024 * 1024,
        h264SegmentMs: (env.H264_SEGMENT_SECONDS ?? 2) * 1000,
        h264SegmentMaxBytes: env.H264_SEGMENT_MAX_BYTES ?? 2 * 1024 * 1024,
        audioFlushMs: env.MEDIA_AUDIO_FLUSH_MS ?? 100,
        audioSpoolMaxBytes: env.MEDIA_AUDIO_SPOOL_MAX_BYTES ?? 256 * 1024 * 1024,
        audioCacheMaxBytes: env.MEDIA_AUDIO_CACHE_MAX_BYTES ?? 256 * 1024 * 1024,
        audioSendRateMs: env.RTMS_AUDIO_SEND_RATE_MS ?? 100,
        observationBufferMax: env.RTMS_OBSERVATION_BUFFER_MAX ?? 10000,
      },
      workers: {
        balanceSlack: env.WORKER_BALANCE_SLACK ?? 1,
        drainIntervalMs: env.WORKER_DRAIN_INTERVAL_MS ?? 1000,
        spoolHostLostAfterMs: (env.SPOOL_HOST_LOST_AFTER_SEC ?? 900) * 1000,
      },
    },
    webhooks: { timestampToleranceSeconds: env.WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS ?? 300 },
    appWebhooks: {
      timeoutMs: env.WEBHOOK_TIMEOUT_MS ?? 15_000,
      retryScheduleSec: list(env.WEBHOOK_RETRY_SCHEDULE ?? '0,5,300,1800,7200,18000,36000').map(Number),
      disableAfterMs: (env.WEBHOOK_DISABLE_AFTER_HOURS ?? 120) * 3_600_000,
      secretRotationOverlapSec: env.WEBHOOK_SECRET_ROTATION_OVERLAP_SEC ?? 86_400,
      allowPrivateUrls: env.WEBHOOK_ALLOW_PRIVATE_URLS ?? false,
      endpointMaxInFlight: env.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT ?? 20,
    },
    live: {
      resumeWindowSec: env.LIVE_RESUME_WINDOW_SEC ?? 300,
      clientBufferBytes: env.LIVE_CLIENT_BUFFER_BYTES ?? 4 * 1024 * 1024,
      pingIntervalMs: (env.LIVE_PING_INTERVAL_SEC ?? 30) * 1000,
      ticketTtlSec: env.LIVE_TICKET_TTL_SEC ?? 60,
      registryTtlMs: (env.LIVE_REGISTRY_TTL_SEC ?? 15) * 1000,
      registryPollMs: env.LIVE_REGISTRY_POLL_MS ?? 1000,
      maxSubscriptionsPerClient: env.LIVE_MAX_SUBSCRIPTIONS_PER_CLIENT ?? 20,
    },
    zoomEventWs:
      env.ZOOM_EVENT_WS_URL && env.ZOOM_EVENT_SUBSCRIPTION_ID
        ? {
            url: env.ZOOM_EVENT_WS_URL,
            subscriptionId: env.ZOOM_EVENT_SUBSCRIPTION_ID,
            clientId: env.ZOOM_EVENT_WS_CLIENT_ID ?? env.ZOOM_CLIENT_ID,
            clientSecret: env.ZOOM_EVENT_WS_CLIENT_SECRET ?? env.ZOOM_CLIENT_SECRET,
            heartbeatMs: env.ZOOM_EVENT_WS_HEARTBEAT_MS ?? 30000,
            idleTimeoutMs: env.ZOOM_EVENT_WS_IDLE_TIMEOUT_MS ?? 90000,
            leaseTtlMs: env.ZOOM_EVENT_WS_LEASE_TTL_MS ?? 2000,
            reconnectMinMs: env.ZOOM_EVENT_WS_RECONNECT_MIN_MS ?? 1000,
            reconnectMaxMs: env.ZOOM_EVENT_WS_RECONNECT_MAX_MS ?? 30000,
          }
        : null,
    zoomRooms: {
      rateLimitPerSec: env.ZOOM_ROOMS_RATE_LIMIT_PER_SEC ?? 2,
      listCacheSec: env.ZOOM_ROOMS_LIST_CACHE_SEC ?? 30,
      pageSize: env.ZOOM_ROOMS_PAGE_SIZE ?? 300,
      attempts: env.ZOOM_ROOMS_ATTEMPTS ?? 6,
      backoffMs: env.ZOOM_ROOMS_BACKOFF_MS ?? 2000,
      defaultLeaveAfterSec: env.ZOOM_ROOMS_DEFAULT_LEAVE_AFTER_SEC ?? 30,
      maxThrottled: env.ZOOM_ROOMS_MAX_THROTTLED ?? 20,
    },
    capture: {
      media_types: list(env.CAPTURE_MEDIA_TYPES ?? 'audio,video,deskshare,transcript,chat') as MediaTypeName[],
      include_user_ids: [],
      exclude_user_ids: [],
      video: {
        skip_first_frames: env.CAPTURE_VIDEO_SKIP_FIRST_FRAMES ?? 0,
        interval_ms: env.CAPTURE_VIDEO_INTERVAL_MS ?? 1000,
        max_frames_per_user: env.CAPTURE_VIDEO_MAX_FRAMES_PER_USER ?? 0,
        store: true,
        // Left out when unset: rows and defaults without them mean JPEG, the fps from interval_ms, HD.
        ...(env.CAPTURE_VIDEO_FORMAT ? { format: env.CAPTURE_VIDEO_FORMAT as VideoFormat } : {}),
        ...(env.CAPTURE_VIDEO_FPS ? { fps: env.CAPTURE_VIDEO_FPS } : {}),
        ...(env.CAPTURE_VIDEO_RESOLUTION ? { resolution: env.CAPTURE_VIDEO_RESOLUTION as VideoResolution } : {}),
      },
      deskshare: { skip_first_frames: 0, interval_ms: env.CAPTURE_DESKSHARE_INTERVAL_MS ?? 1000, max_frames_per_user: 0, store: true },
      audio: {
        mode: (env.CAPTURE_AUDIO_MODE ?? 'per_participant') as 'mixed' | 'per_participant',
        segment_seconds: env.CAPTURE_AUDIO_SEGMENT_SECONDS ?? 10,
        store: true,
      },
      transcript: { enabled: true, src_language: env.CAPTURE_TRANSCRIPT_LANGUAGE ?? -1, store: true },
      chat: { enabled: true, store: true },
    },
    crypto: { tokenEncryptionKeys: env.TOKEN_ENCRYPTION_KEYS, keyring: parseKeyring(env.TOKEN_ENCRYPTION_KEYS) },
    recordings: {
      compose: env.COMPOSE_RECORDINGS ?? true,
      width: env.COMPOSE_WIDTH ?? 1280,
      height: env.COMPOSE_HEIGHT ?? 720,
      fps: env.COMPOSE_FPS ?? 25,
      workDir: env.COMPOSE_WORK_DIR ?? tmpdir(),
    },
    storage: {
      driver: (env.STORAGE_DRIVER ?? 'local') as 'local' | 's3',
      localDir: env.STORAGE_LOCAL_DIR ?? './recordings',
      s3: {
        bucket: env.S3_BUCKET,
        prefix: env.S3_PREFIX ?? '',
        region: env.S3_REGION ?? 'us-east-1',
        endpoint: env.S3_ENDPOINT,
        forcePathStyle: env.S3_FORCE_PATH_STYLE ?? false,
        accessKeyId: env.S3_ACCESS_KEY_ID,
        secretAccessKey: env.S3_SECRET_ACCESS_KEY,
      },
      audioIdleFinalizeMs: env.AUDIO_SEGMENT_IDLE_FINALIZE_MS ?? 5000,
      recordingReadyMaxWaitMs: env.RECORDING_READY_MAX_WAIT_MS ?? 600_000,
      audioSpoolDir: env.AUDIO_SPOOL_DIR ?? './spool',
      spoolHost: env.SPOOL_HOST_ID ?? hostname(),
      retry: {
        windowMs: Math.round((env.STORAGE_RETRY_WINDOW_SEC ?? 21_600) * 1000),
        baseMs: env.STORAGE_RETRY_BASE_MS ?? 2000,
        maxDelayMs: env.STORAGE_RETRY_MAX_DELAY_MS ?? 300_000,
        pendingMaxBytes: env.STORAGE_PENDING_MAX_BYTES ?? 512 * 1024 * 1024,
      },
      probeCacheMs: env.STORAGE_PROBE_CACHE_MS ?? 10_000,
      outageLogIntervalMs: env.STORAGE_OUTAGE_LOG_INTERVAL_MS ?? 30_000,
    },
    // Unset is never "forever": media is the most sensitive and the largest, events the least.
    retention: {
      mediaDays: env.RETENTION_MEDIA_DAYS ?? 30,
      transcriptDays: env.RETENTION_TRANSCRIPT_DAYS ?? 90,
      eventsDays: env.RETENTION_EVENTS_DAYS ?? 365,
      // Not about a session (or about one only through the payload): by age. A Zoom event with
      // names and emails no session claimed is a debugging aid, not a record: a month.
      unlinkedEventsDays: env.RETENTION_UNLINKED_EVENTS_DAYS ?? 30,
      // The outbox and its delivery log: a copy of what apps were sent, kept for resends and support.
      appEventsDays: env.RETENTION_APP_EVENTS_DAYS ?? 30,
      webhookMessagesDays: env.RETENTION_WEBHOOK_MESSAGES_DAYS ?? 30,
      // A finished dispatch is an operations record (what Zoom answered); its passcode is still sealed in it.
      roomDispatchesDays: env.RETENTION_ROOM_DISPATCHES_DAYS ?? 30,
      sweepIntervalMs: Math.round((env.RETENTION_SWEEP_INTERVAL_SEC ?? 3600) * 1000),
      // Rows (and their stored objects) one purge transaction deletes.
      batchSize: env.RETENTION_SWEEP_BATCH_SIZE ?? 200,
    },
    composeEngine: {
      // Bare names: found on PATH (Debian's ffmpeg package, installed by the Dockerfile).
      ffmpegPath: env.FFMPEG_PATH ?? 'ffmpeg',
      ffprobePath: env.FFPROBE_PATH ?? 'ffprobe',
      videoPreset: env.COMPOSE_VIDEO_PRESET ?? 'auto',
      videoCrf: env.COMPOSE_VIDEO_CRF ?? 23,
    },
  };
}

/** Validates an env map (process.env by default) and returns the typed config. */
export function loadAppConfig(raw: Record<string, unknown> = process.env): AppConfig {
  return buildAppConfig(validateEnvironment(raw));
}
