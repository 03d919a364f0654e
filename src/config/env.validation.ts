import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsDivisibleBy,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  registerDecorator,
  validateSync,
} from 'class-validator';
import { parseApiKeys } from './api-keys';
import { parseKeyring } from './keyring';
import { redisSettingsProblems } from './redis-topology';

/** What COMPOSE_VIDEO_PRESET accepts: auto, or an x264 preset, fastest first (the compose engine's VIDEO_PRESET_CHOICES). */
export const COMPOSE_VIDEO_PRESETS = ['auto', 'ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'] as const;
export type ComposeVideoPreset = (typeof COMPOSE_VIDEO_PRESETS)[number];

const toInt = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : Number(value);
const toBool = ({ value }: { value: unknown }) => {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  const v = String(value).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value; // leaves it invalid so @IsBoolean names the variable
};
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/** TOKEN_ENCRYPTION_KEYS must parse as a keyring (the message never echoes key material). */
function IsKeyring(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    let reason = '';
    registerDecorator({
      name: 'isKeyring',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate(value: unknown): boolean {
          try {
            parseKeyring(typeof value === 'string' ? value : undefined);
            return true;
          } catch (err) {
            reason = err instanceof Error ? err.message : 'is invalid';
            return false;
          }
        },
        defaultMessage: () => reason,
      },
    });
  };
}

/** API_KEYS must parse (entries, roles, unique names, secrets of 32+ characters); the message never echoes a secret. */
function IsApiKeys(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    let reason = '';
    registerDecorator({
      name: 'isApiKeys',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate(value: unknown): boolean {
          try {
            parseApiKeys(typeof value === 'string' ? value : undefined);
            return true;
          } catch (err) {
            reason = err instanceof Error ? err.message : 'is invalid';
            return false;
          }
        },
        defaultMessage: () => reason,
      },
    });
  };
}

/**
 * Every environment variable the hub reads, with its rules. Defaults live in
 * app.config.ts; .env.example documents each one. Validation runs once at boot and a
 * bad value stops the process with a message that names the variable.
 */
export class EnvironmentVariables {
  @IsOptional() @IsIn(['development', 'production', 'test'])
  NODE_ENV?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(65535)
  PORT?: number;

  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: string;

  @IsString() @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(200)
  DATABASE_POOL_SIZE?: number;

  /** Read by `npm run migrate` only (src/config/database-url.ts); validated here so a bad value in a shared .env fails at boot too. */
  @IsOptional() @IsString() @Matches(/^(postgres(ql)?:\/\/|$)/, { message: 'MIGRATION_DATABASE_URL must be a postgres:// URL' })
  MIGRATION_DATABASE_URL?: string;

  // Required unless REDIS_SENTINELS or REDIS_CLUSTER_NODES is set (redis-topology.ts checks the combination).
  @IsOptional() @IsString() @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  // Sentinel (docs/operations.md "Redis topologies"): takes precedence over REDIS_URL.
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_SENTINELS?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_SENTINEL_NAME?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_SENTINEL_USERNAME?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_SENTINEL_PASSWORD?: string;
  @IsOptional() @Transform(toBool) @IsBoolean() REDIS_SENTINEL_TLS?: boolean;
  // Cluster: takes precedence over REDIS_URL; QUEUE_PREFIX must then carry a {hash tag}.
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_CLUSTER_NODES?: string;
  // The data nodes' credentials, TLS and database under Sentinel or Cluster (REDIS_URL carries its own).
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_USERNAME?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_PASSWORD?: string;
  @IsOptional() @Transform(toBool) @IsBoolean() REDIS_TLS?: boolean;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(15) REDIS_DB?: number;
  // Any topology: a connection whose server stops answering is dropped after this long (0: off; redis-topology.ts).
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(600_000) REDIS_SOCKET_TIMEOUT_MS?: number;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_-]*(\{[A-Za-z0-9_-]+\})?[A-Za-z0-9_-]*$/, {
    message: 'QUEUE_PREFIX may hold letters, digits, _ and - only, plus one {hash tag} (needed under Redis Cluster)',
  })
  QUEUE_PREFIX?: string;

  @IsOptional() @IsString()
  WORKER_QUEUES?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) CONCURRENCY_ZOOM_EVENTS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) CONCURRENCY_RTMS_CONTROL?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) CONCURRENCY_RTMS_STREAMS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) CONCURRENCY_MEDIA_FRAMES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) CONCURRENCY_ZOOM_ROOMS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) CONCURRENCY_OAUTH?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) CONCURRENCY_APP_WEBHOOKS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(100) CONCURRENCY_MAINTENANCE?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(64) CONCURRENCY_MEDIA_COMPOSE?: number;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(50) JOB_ATTEMPTS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) JOB_BACKOFF_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) JOB_KEEP_COMPLETED?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) JOB_KEEP_FAILED?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) JOB_KEEP_FAILED_MEDIA?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1000) SHUTDOWN_TIMEOUT_MS?: number;

  @IsOptional() @IsString() @IsApiKeys()
  API_KEYS?: string;

  @IsOptional() @Transform(emptyToUndefined) @IsString() @MinLength(1)
  ADMIN_USERNAME?: string;

  @IsOptional() @Transform(emptyToUndefined) @IsString() @MinLength(12, { message: 'ADMIN_PASSWORD must be at least 12 characters' })
  ADMIN_PASSWORD?: string;

  @IsOptional() @IsString() @Matches(/^\d+(b|kb|mb)$/i, { message: 'BODY_LIMIT must look like 512kb or 1mb' })
  BODY_LIMIT?: string;

  @IsOptional() @Transform(toBool) @IsBoolean()
  OPENAPI_ENABLED?: boolean;

  /** Bull Board shows queues and jobs but refuses every change (retry, clean, add, pause…). */
  @IsOptional() @Transform(toBool) @IsBoolean()
  BULL_BOARD_READ_ONLY?: boolean;

  /** Idle lifetime of a session console login (each request renews it). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(60) @Max(7 * 24 * 3600)
  CONSOLE_SESSION_TTL_SEC?: number;

  @IsOptional() @IsString() ZOOM_CLIENT_ID?: string;
  @IsOptional() @IsString() ZOOM_CLIENT_SECRET?: string;
  @IsOptional() @IsString() ZOOM_SDK_KEY?: string;
  @IsOptional() @IsString() ZOOM_SDK_SECRET?: string;
  @IsOptional() @IsString() ZOOM_WEBHOOK_SECRET_TOKEN?: string;
  @IsOptional() @IsString() ZOOM_REDIRECT_URI?: string;
  @IsOptional() @IsString() ZOOM_S2S_CLIENT_ID?: string;
  @IsOptional() @IsString() ZOOM_S2S_CLIENT_SECRET?: string;
  @IsOptional() @IsString() ZOOM_ACCOUNT_ID?: string;

  @IsOptional() @IsString() @Matches(/^https?:\/\/[^\s]+$/, { message: 'ZOOM_API_BASE_URL must be an http(s) URL' })
  ZOOM_API_BASE_URL?: string;

  @IsOptional() @IsString() @Matches(/^https?:\/\/[^\s]+$/, { message: 'ZOOM_OAUTH_BASE_URL must be an http(s) URL' })
  ZOOM_OAUTH_BASE_URL?: string;

  @IsOptional() @Transform(emptyToUndefined) @IsString() @Matches(/^wss?:\/\/[^\s?#]+$/, { message: 'ZOOM_EVENT_WS_URL must be a ws(s) URL without a query' })
  ZOOM_EVENT_WS_URL?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() @MinLength(1) ZOOM_EVENT_SUBSCRIPTION_ID?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() ZOOM_EVENT_WS_CLIENT_ID?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() ZOOM_EVENT_WS_CLIENT_SECRET?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(50) @Max(300000) ZOOM_EVENT_WS_HEARTBEAT_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(600000) ZOOM_EVENT_WS_IDLE_TIMEOUT_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(500) @Max(120000) ZOOM_EVENT_WS_LEASE_TTL_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(60000) ZOOM_EVENT_WS_RECONNECT_MIN_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(600000) ZOOM_EVENT_WS_RECONNECT_MAX_MS?: number;

  @IsOptional() @IsString()
  RTMS_ALLOWED_HOSTS?: string;

  /** Required: tokens are never stored without encryption. */
  @IsKeyring()
  TOKEN_ENCRYPTION_KEYS: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(30) @Max(3600)
  OAUTH_STATE_TTL_SEC?: number;

  @IsOptional() @IsString()
  OAUTH_REDIRECT_ALLOWLIST?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(120000)
  ZOOM_HTTP_TIMEOUT_MS?: number;

  @IsOptional() @Transform(toBool) @IsBoolean()
  RTMS_ALLOW_INSECURE_WS?: boolean;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(86400)
  WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS?: number;

  // RTMS stream workers (media-ingest): reconnection windows, keep-alive, media sockets, batching.
  @IsOptional() @IsIn(['all', 'split']) RTMS_MEDIA_SOCKET_MODE?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(600000) RTMS_KEEPALIVE_TIMEOUT_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(600000) RTMS_SIGNALING_RECONNECT_WINDOW_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(600000) RTMS_MEDIA_RECONNECT_WINDOW_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(60000) RTMS_RECONNECT_BASE_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(60000) RTMS_RECONNECT_MAX_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(120000) RTMS_HANDSHAKE_TIMEOUT_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(104857600) RTMS_MAX_MESSAGE_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(104857600) RTMS_MAX_SIGNALING_MESSAGE_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(10000) MEDIA_BATCH_MAX_ITEMS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(104857600) MEDIA_BATCH_MAX_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(60000) MEDIA_BATCH_FLUSH_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1048576) @Max(17179869184) MEDIA_BATCH_MAX_BUFFERED_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(1099511627776) MEDIA_BATCH_SPILL_MAX_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(60) H264_SEGMENT_SECONDS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(65536) @Max(67108864) H264_SEGMENT_MAX_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(10000) MEDIA_AUDIO_FLUSH_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1048576) @Max(17179869184) MEDIA_AUDIO_SPOOL_MAX_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(17179869184) MEDIA_AUDIO_CACHE_MAX_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(1000000) RTMS_OBSERVATION_BUFFER_MAX?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(20) @Max(1000) @IsIn([20, 40, 60, 80, 100, 200, 500, 1000], { message: 'RTMS_AUDIO_SEND_RATE_MS must be one of 20, 40, 60, 80, 100, 200, 500, 1000' }) RTMS_AUDIO_SEND_RATE_MS?: number;

  @IsOptional() @IsString() @Matches(/^(audio|video|deskshare|transcript|chat)(,(audio|video|deskshare|transcript|chat))*$/, {
    message: 'CAPTURE_MEDIA_TYPES must be a comma list of audio, video, deskshare, transcript, chat',
  })
  CAPTURE_MEDIA_TYPES?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) CAPTURE_VIDEO_SKIP_FIRST_FRAMES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) CAPTURE_VIDEO_INTERVAL_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) CAPTURE_VIDEO_MAX_FRAMES_PER_USER?: number;
  @IsOptional() @IsIn(['jpeg', 'png', 'h264']) CAPTURE_VIDEO_FORMAT?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(30) CAPTURE_VIDEO_FPS?: number;
  @IsOptional() @IsIn(['sd', 'hd', 'fhd', 'qhd']) CAPTURE_VIDEO_RESOLUTION?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) CAPTURE_DESKSHARE_INTERVAL_MS?: number;
  @IsOptional() @IsIn(['mixed', 'per_participant']) CAPTURE_AUDIO_MODE?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(3600) CAPTURE_AUDIO_SEGMENT_SECONDS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(-1) @Max(47) CAPTURE_TRANSCRIPT_LANGUAGE?: number;

  // Zoom Rooms dispatch (docs/zoom-rooms.md).
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) ZOOM_ROOMS_RATE_LIMIT_PER_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(3600) ZOOM_ROOMS_LIST_CACHE_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(300) ZOOM_ROOMS_PAGE_SIZE?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(50) ZOOM_ROOMS_ATTEMPTS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(600000) ZOOM_ROOMS_BACKOFF_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(86400) ZOOM_ROOMS_DEFAULT_LEAVE_AFTER_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) ZOOM_ROOMS_MAX_THROTTLED?: number;

  @IsOptional() @IsIn(['local', 's3'])
  STORAGE_DRIVER?: string;

  @IsOptional() @IsString()
  STORAGE_LOCAL_DIR?: string;

  @IsOptional() @IsString()
  AUDIO_SPOOL_DIR?: string;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'SPOOL_HOST_ID must be 1-128 letters, digits, dots, dashes or underscores' })
  SPOOL_HOST_ID?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(604_800) SPOOL_HOST_LOST_AFTER_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(1000) WORKER_BALANCE_SLACK?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(600_000) WORKER_DRAIN_INTERVAL_MS?: number;

  @IsOptional() @IsString() @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'S3_BUCKET must be a valid bucket name' })
  S3_BUCKET?: string;
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9._/-]*$/, { message: 'S3_PREFIX may hold letters, digits, . _ - and /' })
  S3_PREFIX?: string;
  @IsOptional() @IsString() S3_REGION?: string;
  @IsOptional() @IsString() @Matches(/^https?:\/\/[^\s]+$/, { message: 'S3_ENDPOINT must be an http(s) URL' })
  S3_ENDPOINT?: string;
  @IsOptional() @Transform(toBool) @IsBoolean() S3_FORCE_PATH_STYLE?: boolean;
  @IsOptional() @IsString() S3_ACCESS_KEY_ID?: string;
  @IsOptional() @IsString() S3_SECRET_ACCESS_KEY?: string;
  // Outbound webhooks to apps (docs/webhooks.md).
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(120000) WEBHOOK_TIMEOUT_MS?: number;
  @IsOptional() @IsString() @Matches(/^\s*\d+(\s*,\s*\d+)*\s*$/, { message: 'WEBHOOK_RETRY_SCHEDULE must be a comma list of whole seconds, e.g. 0,5,300' })
  WEBHOOK_RETRY_SCHEDULE?: string;
  /** Fractions allowed (tests use seconds). */
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0.0001) @Max(8760) WEBHOOK_DISABLE_AFTER_HOURS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(30 * 86400) WEBHOOK_SECRET_ROTATION_OVERLAP_SEC?: number;
  /** Lets endpoints be http:// and on private or loopback addresses (development and tests only). */
  @IsOptional() @Transform(toBool) @IsBoolean() WEBHOOK_ALLOW_PRIVATE_URLS?: boolean;
  /** Attempts in flight to one endpoint at once, across every process (0 = no cap). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(10000) WEBHOOK_ENDPOINT_MAX_IN_FLIGHT?: number;

  // Live fan-out (docs/live.md). Fractions of a second are allowed so tests can use short windows.
  @IsOptional() @Transform(toInt) @IsNumber() @Min(1) @Max(86400) LIVE_RESUME_WINDOW_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(16 * 1024) @Max(1024 * 1024 * 1024) LIVE_CLIENT_BUFFER_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0.05) @Max(600) LIVE_PING_INTERVAL_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(3600) LIVE_TICKET_TTL_SEC?: number;
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0.3) @Max(3600) LIVE_REGISTRY_TTL_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(60000) LIVE_REGISTRY_POLL_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) LIVE_MAX_SUBSCRIPTIONS_PER_CLIENT?: number;

  // Composed recordings (docs/recordings.md).
  @IsOptional() @Transform(toBool) @IsBoolean() COMPOSE_RECORDINGS?: boolean;
  /** Even sizes only: H.264 in yuv420p needs them. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(160) @Max(3840) @IsDivisibleBy(2) COMPOSE_WIDTH?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(90) @Max(2160) @IsDivisibleBy(2) COMPOSE_HEIGHT?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(60) COMPOSE_FPS?: number;
  @IsOptional() @IsString() COMPOSE_WORK_DIR?: string;

  /** An open audio segment with no new packet for this long is written out as WAV. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(500) @Max(600000) AUDIO_SEGMENT_IDLE_FINALIZE_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1000) @Max(24 * 3600 * 1000) RECORDING_READY_MAX_WAIT_MS?: number;
  // Storage outages (docs/operations.md): media waits for storage this long, with this backoff, within this budget.
  /** Fractions allowed (tests use seconds). */
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0.1) @Max(7 * 86400) STORAGE_RETRY_WINDOW_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(3600_000) STORAGE_RETRY_BASE_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(3600_000) STORAGE_RETRY_MAX_DELAY_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(1024 ** 4) STORAGE_PENDING_MAX_BYTES?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(600_000) STORAGE_PROBE_CACHE_MS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(3600_000) STORAGE_OUTAGE_LOG_INTERVAL_MS?: number;

  // Retention (docs/retention.md): days after a session ends; fractions allowed; 0 = keep forever (only when set).
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0) @Max(36500) RETENTION_MEDIA_DAYS?: number;
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0) @Max(36500) RETENTION_TRANSCRIPT_DAYS?: number;
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0) @Max(36500) RETENTION_EVENTS_DAYS?: number;
  // By age, not by session (docs/retention.md): days after the row was written; fractions allowed; 0 = keep forever.
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0) @Max(36500) RETENTION_UNLINKED_EVENTS_DAYS?: number;
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0) @Max(36500) RETENTION_APP_EVENTS_DAYS?: number;
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0) @Max(36500) RETENTION_WEBHOOK_MESSAGES_DAYS?: number;
  // Finished Zoom Room dispatches: days after their last update.
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0) @Max(36500) RETENTION_ROOM_DISPATCHES_DAYS?: number;
  @IsOptional() @Transform(toInt) @IsNumber() @Min(0.1) @Max(86400) RETENTION_SWEEP_INTERVAL_SEC?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(10000) RETENTION_SWEEP_BATCH_SIZE?: number;

  // Composing recordings (docs/recordings.md): the ffmpeg and ffprobe binaries, and the H.264 encoder's speed/quality.
  @IsOptional() @Transform(emptyToUndefined) @IsString() FFMPEG_PATH?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() FFPROBE_PATH?: string;
  @IsOptional() @IsIn(COMPOSE_VIDEO_PRESETS) COMPOSE_VIDEO_PRESET?: ComposeVideoPreset;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(51) COMPOSE_VIDEO_CRF?: number;
}

/** Validates raw env; throws one Error listing every bad variable by name. */
export function validateEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  const env = plainToInstance(EnvironmentVariables, raw, { enableImplicitConversion: false });
  const errors = validateSync(env, { skipMissingProperties: false, whitelist: false });
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const reasons = Object.values(e.constraints ?? {}).join('; ');
      return `  - ${e.property}: ${reasons}`;
    });
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const redis = redisSettingsProblems(env);
  if (redis.length > 0) throw new Error(`Invalid configuration:\n${redis.map((r) => `  - ${r}`).join('\n')}`);
  if (env.NODE_ENV === 'production') {
    const refused = developmentOnlySettings(env);
    if (refused.length > 0) {
      throw new Error(`Invalid configuration (development-only settings with NODE_ENV=production):\n${refused.map((r) => `  - ${r}`).join('\n')}`);
    }
  }
  return env;
}

/**
 * Switches that exist for the simulator, local runs and tests, and that would weaken a
 * production hub silently: each is named with why it is refused, so the operator knows
 * what to remove. Values are never echoed (a URL may carry credentials).
 */
function developmentOnlySettings(env: EnvironmentVariables): string[] {
  const refused: string[] = [];
  // Lets anyone with an API key make the hub call internal services (SSRF).
  if (env.WEBHOOK_ALLOW_PRIVATE_URLS === true) refused.push('WEBHOOK_ALLOW_PRIVATE_URLS: must not be true when NODE_ENV=production');
  // RTMS signaling/media in clear text: the handshake signature and all media readable on the wire.
  if (env.RTMS_ALLOW_INSECURE_WS === true) refused.push('RTMS_ALLOW_INSECURE_WS: must not be true when NODE_ENV=production');
  // Client secret, authorization codes and tokens would travel in clear text.
  for (const name of ['ZOOM_API_BASE_URL', 'ZOOM_OAUTH_BASE_URL', 'ZOOM_REDIRECT_URI'] as const) {
    const url = env[name];
    if (url !== undefined && /^http:/i.test(url)) refused.push(`${name}: must be an https:// URL when NODE_ENV=production`);
  }
  if (env.ZOOM_EVENT_WS_URL !== undefined && /^ws:/i.test(env.ZOOM_EVENT_WS_URL)) refused.push('ZOOM_EVENT_WS_URL: must be a wss:// URL when NODE_ENV=production');
  return refused;
}
