import { mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { QueueName } from '../src/jobs/queue-names';
import type { ParticipantScript } from '../src/simulator';
import { createSession } from './factories/session.factory';
import { launchChromium, type HeadlessChromium } from './utils/chromium';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';

jest.setTimeout(120_000);

const S2S = { clientId: 'console_e2e_s2s', clientSecret: 'console_e2e_s2s_secret', accountId: 'console_e2e_account' };
/**
 * docs/console.md's screenshots are refreshed only on request (UPDATE_DOC_SCREENSHOTS=1):
 * otherwise every test run rewrote tracked files. The pages are shot either way.
 */
const UPDATE_DOC_SCREENSHOTS = process.env.UPDATE_DOC_SCREENSHOTS === '1';
const SCREENSHOTS = UPDATE_DOC_SCREENSHOTS ? join(__dirname, '..', 'docs', 'img') : join(process.env.TMPDIR ?? '/tmp', `console-e2e-shots-${process.pid}`);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const STORAGE = join(process.env.TMPDIR ?? '/tmp', `console-e2e-${process.pid}`);

/** Ann and Bob take turns speaking every 1.5 s of meeting time for two minutes: there is always a next line to arrive live. */
function turns(userId: number, name: string, offsetMs: number): ParticipantScript {
  return {
    userId,
    name,
    speaks: Array.from({ length: 40 }, (_, i) => ({ atMs: 1000 + offsetMs + i * 3000, text: `${name} says line ${i}`, durationMs: 1200 })),
    // HTML in a chat message must show as text.
    chat: Array.from({ length: 20 }, (_, i) => ({ atMs: 2000 + offsetMs + i * 6000, text: `<b>${name}</b> chat ${i}` })),
  };
}

/**
 * The session console in a real browser (Debian's Chromium through playwright-core)
 * against the hub and the simulator: log in, watch the session go live in the list, open
 * it, see transcript lines arrive, frames per participant, play an audio segment, refuse a
 * cross-origin form that tries to stop the stream, then stop it from the page.
 */
describe('Session console: a simulated meeting seen in the browser', () => {
  const ctx = useE2eContext({
    simulator: { speed: 2, videoScale: 0.25, s2s: S2S },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames, QueueName.RtmsControl, QueueName.AppWebhooks], explicit: true } },
    env: () => ({
      ZOOM_S2S_CLIENT_ID: S2S.clientId,
      ZOOM_S2S_CLIENT_SECRET: S2S.clientSecret,
      ZOOM_ACCOUNT_ID: S2S.accountId,
      AUDIO_SEGMENT_IDLE_FINALIZE_MS: '500',
      MEDIA_BATCH_FLUSH_MS: '50',
      STORAGE_LOCAL_DIR: STORAGE,
    }),
  });
  let chromium: HeadlessChromium;
  let browser: BrowserContext;
  let page: Page;
  // Session status changes reach the live API through the app-events fan-out (app-webhooks queue).
  let evil: Server;
  /** Uncaught errors and console errors of the console's pages (checked empty at the end of each test). */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    chromium = await launchChromium();
    browser = await chromium.newContext({ viewport: DESKTOP, baseURL: ctx.hub.baseUrl });
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(`uncaught: ${err.message}`));
    // Script errors fail the test; the browser's own network notices do not (a refused
    // download the page then explains, a socket closed by navigating away).
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource|WebSocket|EventSource|net::ERR_/.test(msg.text())) pageErrors.push(`console: ${msg.text()}`);
    });
  });

  afterAll(async () => {
    await chromium?.close();
    await new Promise<void>((resolve) => (evil ? evil.close(() => resolve()) : resolve()));
    rmSync(STORAGE, { recursive: true, force: true });
    if (!UPDATE_DOC_SCREENSHOTS) rmSync(SCREENSHOTS, { recursive: true, force: true });
  });

  /** The page from its top, at 1280×800 and at phone width (docs/console.md shows them). */
  async function screenshots(name: string): Promise<void> {
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-phone.png`) });
    await page.setViewportSize(DESKTOP);
  }

  const session = async (id: string) => (await ctx.http().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(200)).body as { status: string };
  const artifacts = async (id: string, kind: string) =>
    (await ctx.http().get(`/api/v1/sessions/${id}/artifacts?kind=${kind}&limit=500`).set('x-api-key', API_KEY).expect(200)).body.data as Array<{ id: string; user_id: string; storage_key: string }>;
  /** The session the first test captured (the second breaks its files). */
  let capturedId: string;

  it('logs in, follows the session live, shows its transcript, frames and audio, and stops it from the page (never from another origin)', async () => {
    // Before anything runs, the console says how to start a session (the test database
    // may hold other files' sessions: filter to a status no session has yet).
    await page.goto('/console');
    await page.waitForURL(/\/console\/login\?next=%2Fconsole$/);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong username or password.').waitFor();
    await page.getByLabel('Password').fill('test-admin-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console$/);
    const cookie = (await browser.cookies()).find((c) => c.name === 'rtms_console');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    await page.getByText('Live: updates as streams run.').waitFor();

    // The meeting: the session is created first (with its capture policy), then RTMS starts.
    const meeting = ctx.sim.createMeeting({ topic: 'Console e2e', participants: [{ ...turns(301, 'Ann', 0), shares: [{ fromMs: 0, toMs: 120_000 }] }, turns(302, 'Bob', 1500)] });
    const { id: sessionId } = await createSession(ctx.hub, {
      meetingId: meeting.id,
      capturePolicy: {
        media_types: ['audio', 'video', 'deskshare', 'transcript', 'chat'],
        video: { skip_first_frames: 0, interval_ms: 500, max_frames_per_user: 0 },
        deskshare: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0 },
        audio: { mode: 'per_participant', segment_seconds: 2 },
      },
    });
    capturedId = sessionId;
    const row = page.locator(`tr[data-session-id="${sessionId}"]`);
    await ctx.sim.startRtms(meeting.id);
    // The list shows the new session go live without a reload (live WebSocket).
    await row.locator('.badge', { hasText: 'streaming' }).waitFor({ timeout: 20_000 });

    // Frames and audio exist for both speakers before the page is opened (each gallery loads once).
    await waitFor(
      async () => {
        const video = new Set((await artifacts(sessionId, 'video_frame')).map((a) => a.user_id));
        const audio = new Set((await artifacts(sessionId, 'audio_segment')).map((a) => a.user_id));
        const share = await artifacts(sessionId, 'share_frame');
        return video.has('301') && video.has('302') && audio.size > 0 && share.length > 0;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'video frames of both speakers, a screen-share frame and an audio segment' },
    );
    const withVideo = [...new Set((await artifacts(sessionId, 'video_frame')).map((a) => a.user_id))];

    await row.getByRole('link').click();
    await page.waitForURL(new RegExp(`/console/sessions/${sessionId}$`));
    await page.locator('#summary .badge', { hasText: 'streaming' }).waitFor();
    await page.locator('#live', { hasText: 'Live' }).waitFor();

    // Transcript lines arrive while the page is open (SSE), escaped as text.
    const lines = page.locator('#transcript ol.transcript li');
    await lines.first().waitFor({ timeout: 20_000 });
    const shown = await lines.count();
    await waitFor(async () => (await lines.count()) > shown, { timeoutMs: 20_000, intervalMs: 100, what: 'a new transcript line on the open page' });
    expect(await lines.last().textContent()).toMatch(/(Ann|Bob): (Ann|Bob) says line \d+/);
    // Stored and live lines meet without a duplicate.
    const texts = (await lines.allTextContents()).map((t) => t.replace(/^\S+ \S+ /, ''));
    expect(new Set(texts).size).toBe(texts.length);
    await page.getByText(/^<b>Ann<\/b> chat \d+$/).first().waitFor();

    // At least one thumbnail per participant with video, loaded (naturalWidth > 0).
    for (const user of withVideo) {
      const img = page.locator(`#frames .user-gallery[data-user-id="${user}"] img`).first();
      await img.waitFor();
      await waitFor(() => img.evaluate((el) => { const i = el as unknown as { complete: boolean; naturalWidth: number }; return i.complete && i.naturalWidth > 0; }), { timeoutMs: 10_000, what: `a loaded thumbnail of user ${user}` });
    }
    const shared = page.locator('#share .user-gallery[data-user-id="301"] img').first();
    await shared.waitFor();
    await waitFor(() => shared.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth > 0), { timeoutMs: 10_000, what: 'a loaded screen-share thumbnail' });
    // Full size from the keyboard (thumbnails are buttons), closed with Escape.
    await page.locator('#frames button.thumb').first().focus();
    await page.keyboard.press('Enter');
    await page.locator('#viewer[open] img').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('#viewer[open]').waitFor({ state: 'detached' });

    // An audio segment plays: the element reports a duration (Range requests on the artifact route).
    const audio = page.locator('#audio audio').first();
    await audio.waitFor();
    const duration = await audio.evaluate(async (el) => {
      const player = el as unknown as { play(): Promise<void>; duration: number };
      await player.play();
      return player.duration;
    });
    expect(duration).toBeGreaterThan(0);

    await screenshots('console-session');

    // Transcript search and downloads.
    await page.getByLabel('Search').fill('Bob says');
    await waitFor(async () => (await page.locator('#transcript ol.transcript li:visible').allTextContents()).every((t) => t.includes('Bob says')), { what: 'search to filter' });
    await page.getByLabel('Search').fill('');
    const vtt = await page.request.get(`/api/v1/sessions/${sessionId}/transcript?format=vtt`);
    expect(vtt.status()).toBe(200);
    expect(await vtt.text()).toMatch(/^WEBVTT/);


    // Another origin (same site: 127.0.0.1 on another port, so even SameSite=Strict sends
    // the cookie) posts a form to the stop route: refused, and the stream keeps running.
    // The form is empty: one with fields is already refused as a non-JSON body (415), and
    // the cross-site check must hold on its own.
    evil = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<!doctype html><form id="f" method="post" action="${ctx.hub.baseUrl}/api/v1/sessions/${sessionId}/rtms/stop" enctype="application/x-www-form-urlencoded"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const attacker = await browser.newPage();
    const answer = attacker.waitForResponse((r) => r.url().endsWith(`/rtms/stop`));
    await attacker.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    const refused = await answer;
    expect(refused.status()).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'cross_site_request_refused' });
    await attacker.close();
    expect((await session(sessionId)).status).toBe('streaming');
    expect(ctx.sim.streamsOf(meeting.id).some((s) => !s.terminated)).toBe(true);

    // Pause and resume from the page (the control API, through Zoom), then stop.
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('#summary .badge', { hasText: 'paused' }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('#summary .badge', { hasText: 'streaming' }).waitFor({ timeout: 20_000 });
    await page.locator('#timeline li', { hasText: 'paused → streaming' }).waitFor();

    // Stop from the page: the control API stops RTMS at Zoom, the status changes on the page.
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('#summary .badge', { hasText: 'stopped' }).waitFor({ timeout: 20_000 });
    expect((await session(sessionId)).status).toBe('stopped');

    // Back to the list: the stopped session with what it captured.
    await page.getByRole('link', { name: 'Sessions', exact: true }).click();
    await row.locator('.badge', { hasText: 'stopped' }).waitFor();
    await screenshots('console-sessions');
    expect(pageErrors).toEqual([]);
  });

  it('says what is wrong instead of showing a blank: unknown session, no media, a deleted file, storage unreachable, no match', async () => {
    pageErrors.length = 0;
    await page.goto(`/console/sessions/00000000-0000-4000-8000-000000000000`);
    await page.getByText('No such session').waitFor();

    // A session that never streamed: every panel says so.
    const { id: idle } = await createSession(ctx.hub, { meetingId: '81230000001' });
    await page.goto(`/console/sessions/${idle}`);
    await page.getByText('No stream yet: RTMS has not started in this meeting.').waitFor();
    await page.getByText('No video frames').waitFor();
    await page.getByText('No transcript lines yet.').waitFor();
    await page.getByText('No audio segments').waitFor();
    expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);

    // What the workers record about media they could not keep or brought back is on the
    // timeline, with how much and why (the shapes the batcher and the spool writers record).
    const timelineEvents: Array<[string, Record<string, unknown>]> = [
      ['media.dropped', { reason: 'buffers_full', job: 'frame.save', items: 12 }],
      ['media.deferred', { reason: 'shutdown', spool_host: 'host-a', items: 50 }],
      ['media.recovered', { job: 'transcript.save', from: 'spill', items: 40 }],
      ['media.lost', { reason: 'spool_host_lost', items: { audio_segment: 2 }, spool_hosts: ['host-b'] }],
      ['media.recovered', { reason: 'spool_host_back', items: { audio_segment: 1 } }],
    ];
    for (const [i, [type, payload]] of timelineEvents.entries()) {
      await ctx.hub.app
        .get(DataSource)
        .query(`INSERT INTO session_events (session_id, source, event_type, dedupe_key, payload, created_at) VALUES ($1, 'worker', $2, $3, $4, now() + make_interval(secs => $5))`, [idle, type, `console-e2e:${idle}:${i}`, JSON.stringify(payload), i]);
    }
    await page.reload();
    const timeline = page.locator('#timeline li');
    await timeline.filter({ hasText: 'media recovered' }).nth(1).waitFor();
    expect((await timeline.allTextContents()).map((t) => t.replace(/^[\d:.]+(\s?[AP]M)?\s+/i, ''))).toEqual([
      'created',
      'media dropped 12 items · buffers full',
      'media deferred 50 items · shutdown, left on host-a for the next worker',
      'media recovered 40 items · spill',
      'media lost 2 audio segments · spool host lost',
      'media recovered 1 audio segment · spool host back',
    ]);

    // The captured session, with one of Ann's frames deleted (as retention or an erasure
    // would) and Bob's frame folder unreachable (a file where the folder was: ENOTDIR).
    const frames = await artifacts(capturedId, 'video_frame');
    const ann = frames.filter((a) => a.user_id === '301');
    const bob = frames.find((a) => a.user_id === '302')!;
    unlinkSync(join(STORAGE, ann[0].storage_key));
    const bobFolder = join(STORAGE, bob.storage_key.split('/').slice(0, -1).join('/'));
    renameSync(bobFolder, `${bobFolder}.moved`);
    writeFileSync(bobFolder, 'not a folder');
    try {
      await page.goto(`/console/sessions/${capturedId}`);
      await page.locator('#frames .user-gallery[data-user-id="301"]').getByText('Deleted (retention or erasure): the file is no longer stored.').waitFor();
      await page.locator('#frames .user-gallery[data-user-id="302"] .broken', { hasText: 'Storage is unreachable right now' }).first().waitFor();
      // The other frames still show.
      await waitFor(() => page.locator('#frames .user-gallery[data-user-id="301"] img').first().evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth > 0), { what: "Ann's other frames" });
    } finally {
      unlinkSync(bobFolder);
      renameSync(`${bobFolder}.moved`, bobFolder);
    }

    await page.goto('/console?created_to=2000-01-01T00:00:00.000Z');
    await page.getByText('No sessions match these filters.').waitFor();
    expect(pageErrors).toEqual([]);
  });
});
