import { loadAppConfig } from './app.config';

const base = {
  DATABASE_URL: 'postgres://u@localhost/db',
  REDIS_URL: 'redis://localhost:6379',
  TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
};

describe('configuration validation', () => {
  it('applies defaults to a minimal environment', () => {
    const config = loadAppConfig(base);
    expect(config.http.port).toBe(3000);
    expect(config.queues.prefix).toBe('rtms-hub');
    expect(config.rtms.allowedHosts).toEqual(['*.zoom.us']);
    expect(config.rtms.allowInsecureWs).toBe(false);
    expect(config.auth.apiKeys).toEqual([]);
    expect(config.zoom.apiBaseUrl).toBe('https://api.zoom.us/v2');
  });

  it('reads the compose engine settings, with their defaults, and refuses an unknown x264 preset', () => {
    expect(loadAppConfig(base).composeEngine).toEqual({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe', videoPreset: 'auto', videoCrf: 23 });
    const custom = loadAppConfig({ ...base, FFMPEG_PATH: '/opt/ffmpeg/bin/ffmpeg', FFPROBE_PATH: '', COMPOSE_VIDEO_PRESET: 'ultrafast', COMPOSE_VIDEO_CRF: '28' }).composeEngine;
    expect(custom).toEqual({ ffmpegPath: '/opt/ffmpeg/bin/ffmpeg', ffprobePath: 'ffprobe', videoPreset: 'ultrafast', videoCrf: 28 });
    expect(() => loadAppConfig({ ...base, COMPOSE_VIDEO_PRESET: 'placebo' })).toThrow('COMPOSE_VIDEO_PRESET');
    expect(() => loadAppConfig({ ...base, COMPOSE_VIDEO_CRF: '60' })).toThrow('COMPOSE_VIDEO_CRF');
  });

  it('reads the age-based retention settings (unlinked events, app events, webhook messages), with their defaults', () => {
    expect(loadAppConfig(base).retention).toMatchObject({ unlinkedEventsDays: 30, appEventsDays: 30, webhookMessagesDays: 30 });
    const custom = loadAppConfig({ ...base, RETENTION_UNLINKED_EVENTS_DAYS: '0.5', RETENTION_APP_EVENTS_DAYS: '0', RETENTION_WEBHOOK_MESSAGES_DAYS: '7' }).retention;
    expect(custom).toMatchObject({ unlinkedEventsDays: 0.5, appEventsDays: 0, webhookMessagesDays: 7 });
    expect(() => loadAppConfig({ ...base, RETENTION_UNLINKED_EVENTS_DAYS: '-1' })).toThrow('RETENTION_UNLINKED_EVENTS_DAYS');
    expect(() => loadAppConfig({ ...base, RETENTION_APP_EVENTS_DAYS: 'soon' })).toThrow('RETENTION_APP_EVENTS_DAYS');
    expect(() => loadAppConfig({ ...base, RETENTION_WEBHOOK_MESSAGES_DAYS: '40000' })).toThrow('RETENTION_WEBHOOK_MESSAGES_DAYS');
  });

  it('reads the retention of finished Zoom Room dispatches, 30 days by default', () => {
    expect(loadAppConfig(base).retention.roomDispatchesDays).toBe(30);
    expect(loadAppConfig({ ...base, RETENTION_ROOM_DISPATCHES_DAYS: '0.5' }).retention.roomDispatchesDays).toBe(0.5);
    expect(loadAppConfig({ ...base, RETENTION_ROOM_DISPATCHES_DAYS: '0' }).retention.roomDispatchesDays).toBe(0);
    expect(() => loadAppConfig({ ...base, RETENTION_ROOM_DISPATCHES_DAYS: '-1' })).toThrow('RETENTION_ROOM_DISPATCHES_DAYS');
  });

  it('reads the outbound webhook settings, with their defaults', () => {
    expect(loadAppConfig(base).appWebhooks).toEqual({
      timeoutMs: 15_000,
      retryScheduleSec: [0, 5, 300, 1800, 7200, 18000, 36000],
      disableAfterMs: 120 * 3_600_000,
      secretRotationOverlapSec: 86_400,
      allowPrivateUrls: false,
      endpointMaxInFlight: 20,
    });
    const custom = loadAppConfig({ ...base, WEBHOOK_RETRY_SCHEDULE: '0, 2,10', WEBHOOK_DISABLE_AFTER_HOURS: '0.5', WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_ENDPOINT_MAX_IN_FLIGHT: '0' }).appWebhooks;
    expect(custom).toMatchObject({ retryScheduleSec: [0, 2, 10], disableAfterMs: 1_800_000, allowPrivateUrls: true, endpointMaxInFlight: 0 });
    expect(() => loadAppConfig({ ...base, WEBHOOK_ENDPOINT_MAX_IN_FLIGHT: '-1' })).toThrow('WEBHOOK_ENDPOINT_MAX_IN_FLIGHT');
    expect(() => loadAppConfig({ ...base, WEBHOOK_ENDPOINT_MAX_IN_FLIGHT: 'many' })).toThrow('WEBHOOK_ENDPOINT_MAX_IN_FLIGHT');
  });

  it('BULL_BOARD_READ_ONLY: off by default, a boolean', () => {
    expect(loadAppConfig(base).bullBoard).toEqual({ readOnly: false });
    expect(loadAppConfig({ ...base, BULL_BOARD_READ_ONLY: 'true' }).bullBoard).toEqual({ readOnly: true });
    expect(() => loadAppConfig({ ...base, BULL_BOARD_READ_ONLY: 'sometimes' })).toThrow('BULL_BOARD_READ_ONLY');
  });

  it('reads the default video format, fps and resolution (unset: JPEG, no fps, no resolution) and refuses others', () => {
    expect(loadAppConfig(base).capture.video).toEqual({ skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0, store: true });
    expect(loadAppConfig({ ...base, CAPTURE_VIDEO_FORMAT: 'h264', CAPTURE_VIDEO_FPS: '15', CAPTURE_VIDEO_RESOLUTION: 'fhd' }).capture.video).toMatchObject({ format: 'h264', fps: 15, resolution: 'fhd' });
    expect(() => loadAppConfig({ ...base, CAPTURE_VIDEO_FORMAT: 'vp8' })).toThrow('CAPTURE_VIDEO_FORMAT');
    expect(() => loadAppConfig({ ...base, CAPTURE_VIDEO_FPS: '60' })).toThrow('CAPTURE_VIDEO_FPS');
    expect(() => loadAppConfig({ ...base, CAPTURE_VIDEO_RESOLUTION: '4k' })).toThrow('CAPTURE_VIDEO_RESOLUTION');
  });

  it('parses lists, numbers and booleans', () => {
    const [k1, k2] = ['k'.repeat(32), 'q'.repeat(32)];
    const config = loadAppConfig({ ...base, PORT: '8080', API_KEYS: `${k1}, app:read:${k2},`, RTMS_ALLOW_INSECURE_WS: 'true', ZOOM_WEBHOOK_SECRET_TOKEN: 'new,old' });
    expect(config.http.port).toBe(8080);
    expect(config.auth.apiKeys.map((k) => [k.role, k.secret])).toEqual([['admin', k1], ['read', k2]]);
    expect(config.rtms.allowInsecureWs).toBe(true);
    expect(config.zoom.webhookSecretTokens).toEqual(['new', 'old']);
  });

  it.each([
    [{ DATABASE_URL: undefined }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL must be a postgres:// URL'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL must be a redis:// or rediss:// URL'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ADMIN_PASSWORD: 'short' }, 'ADMIN_PASSWORD must be at least 12 characters'],
    [{ API_KEYS: 'test-api-key' }, 'API_KEYS: entry 1 (a bare secret): the secret must be at least 32 characters'],
    [{ API_KEYS: `app:superuser:${'s'.repeat(32)}` }, 'API_KEYS: entry 1 ("app"): the role must be one of read, control, admin'],
    [{ CONCURRENCY_RTMS_STREAMS: '0' }, 'CONCURRENCY_RTMS_STREAMS'],
    [{ RTMS_ALLOW_INSECURE_WS: 'maybe' }, 'RTMS_ALLOW_INSECURE_WS'],
    [{ QUEUE_PREFIX: 'a:b' }, 'QUEUE_PREFIX'],
    [{ WEBHOOK_RETRY_SCHEDULE: '0,5m' }, 'WEBHOOK_RETRY_SCHEDULE must be a comma list of whole seconds'],
    [{ WEBHOOK_TIMEOUT_MS: '10' }, 'WEBHOOK_TIMEOUT_MS'],
    [{ NODE_ENV: 'production', WEBHOOK_ALLOW_PRIVATE_URLS: 'true' }, 'WEBHOOK_ALLOW_PRIVATE_URLS: must not be true when NODE_ENV=production'],
  ])('refuses %j naming the variable', (patch, expected) => {
    expect(() => loadAppConfig({ ...base, ...patch })).toThrow(expected);
  });

  describe('development-only switches are refused with NODE_ENV=production', () => {
    const prod = { ...base, NODE_ENV: 'production' };

    it.each([
      [{ RTMS_ALLOW_INSECURE_WS: 'true' }, 'RTMS_ALLOW_INSECURE_WS: must not be true when NODE_ENV=production'],
      [{ WEBHOOK_ALLOW_PRIVATE_URLS: 'true' }, 'WEBHOOK_ALLOW_PRIVATE_URLS: must not be true when NODE_ENV=production'],
      [{ ZOOM_API_BASE_URL: 'http://127.0.0.1:9999/v2' }, 'ZOOM_API_BASE_URL: must be an https:// URL when NODE_ENV=production'],
      [{ ZOOM_OAUTH_BASE_URL: 'http://zoom.example' }, 'ZOOM_OAUTH_BASE_URL: must be an https:// URL when NODE_ENV=production'],
      [{ ZOOM_REDIRECT_URI: 'http://hub.example/api/v1/oauth/zoom/callback' }, 'ZOOM_REDIRECT_URI: must be an https:// URL when NODE_ENV=production'],
      [{ ZOOM_EVENT_WS_URL: 'ws://127.0.0.1:9999/ws' }, 'ZOOM_EVENT_WS_URL: must be a wss:// URL when NODE_ENV=production'],
    ])('refuses %j', (patch, expected) => {
      expect(() => loadAppConfig({ ...prod, ...patch })).toThrow(expected);
      // The same settings are fine outside production (the simulator, the demo, tests).
      expect(() => loadAppConfig({ ...base, NODE_ENV: 'development', ...patch })).not.toThrow();
    });

    it('lists every offending variable at once, without echoing values', () => {
      const secretUrl = 'http://user:s3cret@zoom.example';
      let message = '';
      try {
        loadAppConfig({ ...prod, RTMS_ALLOW_INSECURE_WS: 'true', ZOOM_API_BASE_URL: secretUrl });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toContain('RTMS_ALLOW_INSECURE_WS');
      expect(message).toContain('ZOOM_API_BASE_URL');
      expect(message).not.toContain('s3cret');
    });

    it('boots production with the secure equivalents', () => {
      const config = loadAppConfig({
        ...prod,
        RTMS_ALLOW_INSECURE_WS: 'false',
        WEBHOOK_ALLOW_PRIVATE_URLS: 'false',
        ZOOM_API_BASE_URL: 'https://api.zoom.us/v2',
        ZOOM_OAUTH_BASE_URL: 'https://zoom.us',
        ZOOM_REDIRECT_URI: 'https://hub.example/api/v1/oauth/zoom/callback',
        ZOOM_EVENT_WS_URL: 'wss://ws.zoom.us/ws',
      });
      expect(config.rtms.allowInsecureWs).toBe(false);
    });
  });

  it('never echoes a secret value in the error', () => {
    expect(() => loadAppConfig({ ...base, ADMIN_PASSWORD: 'hunter2' })).toThrow(/^(?![\s\S]*hunter2)/);
  });
});
