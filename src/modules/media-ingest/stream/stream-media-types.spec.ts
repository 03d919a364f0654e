import { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import WebSocket, { WebSocketServer } from 'ws';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import type { MediaTypeName } from '../../sessions';
import { waitFor } from '../../../../test/utils/wait-for';
import type { StreamSession } from './stream-session';
import { Note, testStreamSession } from './stream-session.spec-helper';

const BITS: Array<[MediaTypeName, number, number]> = [
  // type, media_type bit, status when the app has no scope for it (rtms-protocol.md §2: 9–13)
  ['audio', 1, 9],
  ['video', 2, 10],
  ['deskshare', 4, 11],
  ['transcript', 8, 12],
  ['chat', 16, 13],
];

/**
 * A stand-in for Zoom that knows the app's scopes: msg 2 offers the media URLs it is told
 * to, and a media handshake asking for a type out of scope is refused with that type's
 * MEDIA_TYPE_*_NOT_SUPPORT (9–13), as the RTMS server does.
 */
class ScopedZoom {
  /** Every media handshake: the path dialed, the media_type asked, the status answered. */
  readonly media: Array<{ path: string; mask: number; status: number }> = [];
  signalingHandshakes = 0;
  readyAcks = 0;
  signaling: WebSocket | null = null;
  private server!: WebSocketServer;

  constructor(
    private readonly scopes: MediaTypeName[],
    /** The `server_urls` keys msg 2 offers (each is `<base>/media/<key>`). */
    private readonly keys: string[],
    /** Refuse an `all` socket while a per-type one is up, and the reverse (15 MEDIA_DATA_ALL_CONNECTION_EXIST). */
    private readonly allOrTyped = false,
  ) {}

  /** Media sockets whose handshake was accepted and that are still open, by path. */
  private readonly accepted = new Map<WebSocket, string>();

  async start(): Promise<this> {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => this.server.once('listening', () => r()));
    this.server.on('connection', (ws, req) => {
      ws.on('message', (raw) => {
        const m = JSON.parse(String(raw)) as { msg_type?: number; media_type?: number };
        if (m.msg_type === RtmsMessageType.SignalingHandshakeReq) {
          this.signalingHandshakes++;
          this.signaling = ws;
          const serverUrls = Object.fromEntries(this.keys.map((k) => [k, `${this.base}/media/${k}`]));
          ws.send(JSON.stringify({ msg_type: RtmsMessageType.SignalingHandshakeResp, status_code: 0, media_server: { server_urls: serverUrls } }));
        } else if (m.msg_type === RtmsMessageType.ClientReadyAck) {
          this.readyAcks++;
        } else if (m.msg_type === RtmsMessageType.DataHandshakeReq) {
          const mask = m.media_type ?? 0;
          const path = (req.url ?? '').replace('/media/', '');
          const outOfScope = BITS.find(([type, bit]) => mask & bit && !this.scopes.includes(type));
          const openPaths = [...this.accepted.values()];
          const mixing = this.allOrTyped && openPaths.some((p) => (p === 'all') !== (path === 'all'));
          const status = outOfScope ? outOfScope[2] : mixing ? 15 : 0;
          const reason = outOfScope ? `MEDIA_TYPE_${outOfScope[0].toUpperCase()}_NOT_SUPPORT` : mixing ? 'MEDIA_DATA_ALL_CONNECTION_EXIST' : '';
          this.media.push({ path, mask, status });
          ws.send(JSON.stringify({ msg_type: RtmsMessageType.DataHandshakeResp, status_code: status, reason }));
          if (status) ws.close(1000, 'handshake failed');
          else {
            this.accepted.set(ws, path);
            ws.on('close', () => this.accepted.delete(ws));
          }
        }
      });
    });
    return this;
  }

  get openPaths(): string[] {
    return [...this.accepted.values()];
  }

  get base(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const c of this.server.clients) c.terminate();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Sessions of the current test: a failing test's session is aborted too, so it cannot write into the next test's notes. */
const sessions: StreamSession[] = [];

function session(zoom: ScopedZoom, mediaTypes: MediaTypeName[], mediaSocketMode: 'all' | 'split', notes: Note[]): StreamSession {
  const s = testStreamSession({ zoomBase: zoom.base, mediaTypes, config: { mediaSocketMode }, notes });
  sessions.push(s);
  return s;
}

const unavailableNotes = (notes: Note[]) => notes.filter(([type]) => type === 'stream.media_type_unavailable').map(([, payload]) => payload);

describe('StreamSession: a media type the app has no scope for (msg 4 status 9–13)', () => {
  let zoom: ScopedZoom | undefined;
  const notes: Note[] = [];

  beforeEach(() => {
    notes.length = 0;
    for (const level of ['log', 'warn', 'error', 'debug'] as const) jest.spyOn(Logger.prototype, level).mockImplementation(() => undefined);
  });

  afterEach(async () => {
    for (const s of sessions.splice(0)) s.abort('shutdown');
    await zoom?.stop();
    zoom = undefined;
    jest.restoreAllMocks();
  });

  it('is dropped for the rest of the stream and the rest asked for at once (all mode); the stream runs on', async () => {
    // msg 2 offers only `all`: nothing says which types are in scope, so everything wanted is asked.
    zoom = await new ScopedZoom(['audio'], ['all']).start();
    const s = session(zoom, ['audio', 'deskshare', 'chat'], 'all', notes);
    const run = s.run();
    await waitFor(() => zoom!.media.some((h) => h.status === 0), { timeoutMs: 5000, what: 'a media handshake accepted' });
    expect(zoom.media).toEqual([
      { path: 'all', mask: 1 | 4 | 16, status: 11 },
      { path: 'all', mask: 1 | 16, status: 13 },
      { path: 'all', mask: 1, status: 0 },
    ]);
    expect(unavailableNotes(notes)).toEqual([
      { media_type: 'deskshare', status_code: 11, status_name: 'MEDIA_TYPE_DESKSHARE_NOT_SUPPORT' },
      { media_type: 'chat', status_code: 13, status_name: 'MEDIA_TYPE_CHAT_NOT_SUPPORT' },
    ]);
    expect(notes.some(([type]) => type === 'stream.failed')).toBe(false);

    // A later media reconnect (event 7, after the 1 s in which a notice is taken as stale) asks only for what is left.
    await new Promise((r) => setTimeout(r, 1100));
    zoom.signaling!.send(JSON.stringify({ msg_type: RtmsMessageType.EventUpdate, event: { event_type: 7, timestamp: Date.now() } }));
    await waitFor(() => zoom!.media.length === 4, { timeoutMs: 5000, what: 'media redone after event 7' });
    expect(zoom.media[3]).toEqual({ path: 'all', mask: 1, status: 0 });
    expect(zoom.signalingHandshakes).toBe(1);
    expect(unavailableNotes(notes)).toHaveLength(2);
    s.abort('shutdown');
    await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
  });

  it('fails the stream like "no URL for any requested media type" when every wanted type is refused', async () => {
    zoom = await new ScopedZoom(['audio'], ['all']).start();
    const s = session(zoom, ['deskshare', 'chat'], 'all', notes);
    const outcome = await s.run();
    expect(outcome).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/^the media server offered no URL for any requested media type \(deskshare, chat\); refused by the media server: deskshare, chat$/) });
    expect(zoom.media.map((h) => h.status)).toEqual([11, 13]);
    expect(unavailableNotes(notes).map((n) => n.media_type)).toEqual(['deskshare', 'chat']);
  });

  it('split mode with the documented msg 2: the per-type sockets stay up while share screen and chat are tried on `all` and dropped', async () => {
    zoom = await new ScopedZoom(['audio', 'video', 'transcript'], ['audio', 'video', 'transcript', 'all']).start();
    const s = session(zoom, ['audio', 'video', 'deskshare', 'transcript', 'chat'], 'split', notes);
    const run = s.run();
    await waitFor(() => unavailableNotes(notes).length === 2 && zoom!.readyAcks === 3, { timeoutMs: 5000, what: 'share and chat refused on all, three sockets acknowledged' });
    // The per-type sockets were handshaken once each (kept through the retries), share and chat tried on `all` and refused.
    const byPath = (p: string) => zoom!.media.filter((h) => h.path === p).map((h) => [h.mask, h.status]);
    expect(byPath('audio')).toEqual([[1, 0]]);
    expect(byPath('video')).toEqual([[2, 0]]);
    expect(byPath('transcript')).toEqual([[8, 0]]);
    expect(byPath('all')).toEqual([
      [4 | 16, 11],
      [16, 13],
    ]);
    expect(unavailableNotes(notes).map((n) => n.media_type)).toEqual(['deskshare', 'chat']);
    s.abort('shutdown');
    await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
    expect(zoom.media).toHaveLength(5);
  });

  it('split mode where Zoom takes no `all` socket beside per-type ones (15): share screen and chat are dropped, the per-type sockets run', async () => {
    zoom = await new ScopedZoom(['audio', 'video', 'deskshare', 'transcript', 'chat'], ['audio', 'video', 'transcript', 'all'], true).start();
    const s = session(zoom, ['audio', 'video', 'deskshare', 'transcript', 'chat'], 'split', notes);
    const run = s.run();
    // Whichever kind Zoom took first, the other was refused with 15; in the end the three per-type sockets are up and `all` is not.
    await waitFor(() => unavailableNotes(notes).length === 2 && zoom!.openPaths.sort().join() === 'audio,transcript,video', { timeoutMs: 5000, what: 'share and chat dropped; the three per-type sockets up, no all socket' });
    expect(zoom.media.some((h) => h.status === 15)).toBe(true);
    expect(unavailableNotes(notes)).toEqual([
      { media_type: 'deskshare', status_code: 15, status_name: 'MEDIA_DATA_ALL_CONNECTION_EXIST' },
      { media_type: 'chat', status_code: 15, status_name: 'MEDIA_DATA_ALL_CONNECTION_EXIST' },
    ]);
    expect(notes.some(([type]) => type === 'stream.failed')).toBe(false);
    s.abort('shutdown');
    await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
  });

  it('split mode: share screen and chat in scope ride on one `all` socket next to the per-type sockets', async () => {
    zoom = await new ScopedZoom(['audio', 'video', 'deskshare', 'transcript', 'chat'], ['audio', 'video', 'transcript', 'all']).start();
    const s = session(zoom, ['audio', 'video', 'deskshare', 'transcript', 'chat'], 'split', notes);
    const run = s.run();
    await waitFor(() => zoom!.readyAcks === 4, { timeoutMs: 5000, what: 'four media sockets acknowledged' });
    expect(zoom.media.map((h) => [h.path, h.mask, h.status]).sort()).toEqual([
      ['all', 4 | 16, 0],
      ['audio', 1, 0],
      ['transcript', 8, 0],
      ['video', 2, 0],
    ]);
    expect(unavailableNotes(notes)).toEqual([]);
    s.abort('shutdown');
    await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
  });
});
