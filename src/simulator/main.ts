/**
 * `npm run simulator`: run the Zoom simulator as its own process.
 * Configuration from SIM_* environment variables, or `--flag=value` (flag `--webhook-url`
 * = SIM_WEBHOOK_URL). See docs/simulator.md.
 */
import { ZoomSimulator } from './simulator';
import type { SimulatorOptions } from './types';
import { MEDIA_KINDS, type MediaKind } from './protocol';

function config(argv: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('SIM_') && v !== undefined) out[k] = v;
  for (const a of argv) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/i.exec(a);
    if (m) out['SIM_' + m[1].toUpperCase().replace(/-/g, '_')] = m[2] ?? 'true';
  }
  return out;
}

export function optionsFrom(c: Record<string, string>): SimulatorOptions {
  const num = (k: string) => (c[k] !== undefined && c[k] !== '' ? Number(c[k]) : undefined);
  const list = (k: string) => (c[k] ? c[k].split(',').map((x) => x.trim()).filter(Boolean) : undefined);
  const o: SimulatorOptions = {
    host: c.SIM_HOST ?? '127.0.0.1',
    port: num('SIM_PORT') ?? 9090,
    clientId: c.SIM_CLIENT_ID,
    clientSecret: c.SIM_CLIENT_SECRET,
    webhookSecretToken: c.SIM_WEBHOOK_SECRET_TOKEN,
    webhookUrl: c.SIM_WEBHOOK_URL || null,
    redirectUris: list('SIM_REDIRECT_URIS'),
    accessTokenTtlSec: num('SIM_ACCESS_TOKEN_TTL_SEC'),
    keepAliveIntervalMs: num('SIM_KEEPALIVE_INTERVAL_MS'),
    keepAliveMissLimit: num('SIM_KEEPALIVE_MISS_LIMIT'),
    signalingReconnectWindowMs: num('SIM_SIGNALING_RECONNECT_WINDOW_MS'),
    mediaReconnectWindowMs: num('SIM_MEDIA_RECONNECT_WINDOW_MS'),
    webhookTimeoutMs: num('SIM_WEBHOOK_TIMEOUT_MS'),
    webhookRetryDelaysMs: list('SIM_WEBHOOK_RETRY_DELAYS_MS')?.map(Number),
    autoUrlValidation: c.SIM_AUTO_URL_VALIDATION === undefined ? undefined : !['false', '0', 'off'].includes(c.SIM_AUTO_URL_VALIDATION),
    urlValidationIntervalMs: num('SIM_URL_VALIDATION_INTERVAL_MS'),
    eventSubscriptionId: c.SIM_EVENT_SUBSCRIPTION_ID,
    speed: num('SIM_SPEED'),
    videoScale: num('SIM_VIDEO_SCALE'),
    videoGrain: c.SIM_VIDEO_GRAIN === undefined ? undefined : c.SIM_VIDEO_GRAIN === 'true' || c.SIM_VIDEO_GRAIN === '1',
    mediaEncoding: c.SIM_MEDIA_ENCODING === 'json' || c.SIM_MEDIA_ENCODING === 'prebuilt' ? c.SIM_MEDIA_ENCODING : undefined,
    roomsRateLimitPerSec: num('SIM_ROOMS_RATE_LIMIT_PER_SEC'),
    concurrencyLimit: num('SIM_CONCURRENCY_LIMIT'),
    mediaSplit: c.SIM_MEDIA_SPLIT as SimulatorOptions['mediaSplit'],
    mediaScopes: list('SIM_MEDIA_SCOPES')?.filter((k): k is MediaKind => (MEDIA_KINDS as readonly string[]).includes(k)),
    shareChatUrls: c.SIM_SHARE_CHAT_URLS === undefined ? undefined : c.SIM_SHARE_CHAT_URLS === 'true' || c.SIM_SHARE_CHAT_URLS === '1',
    sessionStateReasonField: c.SIM_SESSION_STATE_REASON_FIELD === 'reason' || c.SIM_SESSION_STATE_REASON_FIELD === 'stop_reason' ? c.SIM_SESSION_STATE_REASON_FIELD : undefined,
    logger: c.SIM_QUIET === 'true' || c.SIM_QUIET === '1' ? undefined : (line) => process.stdout.write(`[zoom-sim] ${line}\n`),
  };
  if (c.SIM_S2S_CLIENT_ID && c.SIM_S2S_CLIENT_SECRET) o.s2s = { clientId: c.SIM_S2S_CLIENT_ID, clientSecret: c.SIM_S2S_CLIENT_SECRET, accountId: c.SIM_ACCOUNT_ID ?? 'sim_account_id' };
  if (c.SIM_GENERAL_CLIENT_ID && c.SIM_GENERAL_CLIENT_SECRET) o.generalApp = { clientId: c.SIM_GENERAL_CLIENT_ID, clientSecret: c.SIM_GENERAL_CLIENT_SECRET };
  for (const k of Object.keys(o) as Array<keyof SimulatorOptions>) if (o[k] === undefined) delete o[k];
  return o;
}

async function main(): Promise<void> {
  const c = config(process.argv.slice(2), process.env);
  const sim = await ZoomSimulator.start(optionsFrom(c));
  // SIM_ROOMS="id:Name:Available,id2:Other Room:Offline"
  for (const spec of (c.SIM_ROOMS ?? '').split(',').filter(Boolean)) {
    const [id, name, status] = spec.split(':');
    sim.addRoom({ id, name: name ?? id, status: (status as never) ?? 'Available' });
  }
  const o = sim.options;
  const lines = [
    `Zoom simulator on ${sim.httpBaseUrl}`,
    `  ZOOM_OAUTH_BASE_URL=${sim.oauthBaseUrl}`,
    `  ZOOM_API_BASE_URL=${sim.apiBaseUrl}`,
    `  ZOOM_EVENT_WS_URL=${sim.eventWsUrl}  (subscription ${o.eventSubscriptionId})`,
    `  RTMS signaling: ${sim.signalingUrl}`,
    `  app ${o.clientId} / s2s ${o.s2s.clientId} (account ${o.s2s.accountId})`,
    `  webhooks → ${sim.webhookTarget ?? '(off)'}`,
    `  control API: ${sim.httpBaseUrl}/_sim  (docs/simulator.md)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (c.SIM_AUTOSTART === 'true' || c.SIM_AUTOSTART === '1') {
    const m = sim.createMeeting();
    const s = await sim.startRtms(m.id);
    process.stdout.write(`  autostart: meeting ${m.id} (${m.uuid}) stream ${s.streamId}\n`);
  }
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`[zoom-sim] ${sig}: shutting down\n`);
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`zoom simulator failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
