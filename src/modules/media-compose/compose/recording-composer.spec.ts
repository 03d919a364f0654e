import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../../config/app.config';
import type { RecordingMediaService, RecordingReadyService, RecordingSource } from '../../media-ingest';
import { SessionStatus, type SessionEntity, type SessionEventsService, type SessionsService } from '../../sessions';
import type { ComposeEngine, ComposeResult } from '../engine/compose-types';
import type { ParticipantAudioEncoder, ParticipantAudioInput } from '../engine/ffmpeg-compose-engine';
import type { RecordingCompositionsRepository } from '../recording-compositions.repository';
import { ComposeInterrupted } from './compose-errors';
import type { ComposeLeases } from './compose-lease';
import type { ComposeMetrics } from './compose-metrics';
import type { ComposeWorkDirs } from './compose-work-dirs';
import { RecordingComposer } from './recording-composer.service';
import { buildWav } from './wav-runs';

const T0 = 1_796_500_000_000;
const SESSION = '11111111-1111-4111-8111-111111111111';

const wavSource = (userId: string, firstTs: number): RecordingSource => ({
  storageKey: `${SESSION}/audio/u_${userId}/${firstTs}.wav`,
  rtmsStreamId: 'stream-1',
  userId,
  userName: null,
  capturedAt: new Date(firstTs),
  durationMs: 0,
  bytes: 44,
  sha256: 'a'.repeat(64),
  meta: { sample_rate: 16000, channels: 1, bits_per_sample: 16, first_ts: firstTs, missing_parts: 3 },
});

const result: ComposeResult = {
  durationMs: 60_000,
  bytes: 10,
  video: { codec: 'h264', width: 640, height: 360, fps: 25 },
  audio: { codec: 'aac', sampleRate: 48000, channels: 1 },
  gaps: [],
  cpuMs: 1,
};

/** A composer over mocks: `pcm` is what every downloaded WAV holds. */
function composer(opts: { pcm: Buffer; engine?: ComposeEngine['compose']; audio?: RecordingSource[]; capturePolicy?: Record<string, unknown> }) {
  const session = { id: SESSION, status: SessionStatus.Stopped, startedAt: new Date(T0), endedAt: new Date(T0 + 60_000), capturePolicy: opts.capturePolicy ?? {} } as unknown as SessionEntity;
  const media = {
    sources: jest.fn(async () => ({ video: [], audio: opts.audio ?? [wavSource('0', T0 + 1000)] })),
    download: jest.fn(async (_key: string, file: string) => fs.writeFile(file, buildWav(opts.pcm, { sampleRate: 16000, channels: 1, bitsPerSample: 16 }))),
    checkSources: jest.fn(async () => 'unchanged'),
    upload: jest.fn(async (file: Record<string, unknown>) => ({ ...file, storageKey: `${SESSION}/recording/recording.mp4`, bytes: 10, sha256: 'b'.repeat(64) })),
    commitComposed: jest.fn(async () => ({ status: 'stored', artifacts: [{ id: 'artifact-1' }] })),
    discardComposedOfDeletedSession: jest.fn(async () => 0),
  };
  const compositions = { setState: jest.fn(async () => undefined) };
  const ready = { announceComposed: jest.fn(async () => true) };
  const events = { recordEvent: jest.fn(async () => undefined), eventsOfTypes: jest.fn(async () => []) };
  const engine = { compose: jest.fn(opts.engine ?? (async (_input, out: string) => (await fs.writeFile(out, 'mp4'), result))) };
  const lease = { lost: new AbortController().signal, release: jest.fn(async () => undefined) };
  const participantEncoder = { participantAudio: jest.fn(async (_input: ParticipantAudioInput): Promise<never> => Promise.reject(new Error('not encoded in this spec'))) };
  let root = '';
  const workDirs = {
    create: jest.fn(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), 'composer-spec-'));
      return { path: root, release: () => fs.rm(root, { recursive: true, force: true }) };
    }),
  };
  const config = { get: () => ({ width: 640, height: 360, fps: 25 }) } as unknown as ConfigService<AppConfig, true>;
  const c = new RecordingComposer(
    { get: jest.fn(async () => session) } as unknown as SessionsService,
    events as unknown as SessionEventsService,
    media as unknown as RecordingMediaService,
    ready as unknown as RecordingReadyService,
    compositions as unknown as RecordingCompositionsRepository,
    { composed: jest.fn(), failed: jest.fn() } as unknown as ComposeMetrics,
    workDirs as unknown as ComposeWorkDirs,
    { acquire: jest.fn(async () => lease) } as unknown as ComposeLeases,
    engine as unknown as ComposeEngine,
    participantEncoder as unknown as ParticipantAudioEncoder,
    config,
  );
  return { c, media, compositions, ready, engine, lease, participantEncoder };
}

describe('RecordingComposer', () => {
  it('every WAV empty once downloaded: nothing_to_compose, announced at once, without running the engine or storing', async () => {
    const { c, engine, media, ready } = composer({ pcm: Buffer.alloc(0) });
    await expect(c.run(SESSION, 'auto')).resolves.toMatchObject({ status: 'failed', code: 'nothing_to_compose', announced: true });
    expect(engine.compose).not.toHaveBeenCalled();
    expect(media.upload).not.toHaveBeenCalled();
    expect(ready.announceComposed).toHaveBeenCalledWith(SESSION, { recording: null, recordingError: expect.objectContaining({ code: 'nothing_to_compose' }) });
  });

  it('stops on SIGTERM without recording a failure: ComposeInterrupted, nothing announced, the lease given back', async () => {
    const shutdown = new AbortController();
    const { c, compositions, ready, lease } = composer({
      pcm: Buffer.alloc(32_000),
      engine: (_input, _out, signal) =>
        new Promise((_resolve, reject) => {
          signal!.addEventListener('abort', () => reject(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })));
          shutdown.abort();
        }),
    });
    await expect(c.run(SESSION, 'auto', shutdown.signal)).rejects.toEqual(new ComposeInterrupted('shutdown'));
    expect(compositions.setState).not.toHaveBeenCalledWith(SESSION, expect.anything(), 'failed', expect.anything());
    expect(ready.announceComposed).not.toHaveBeenCalled();
    expect(lease.release).toHaveBeenCalled();
  });

  it('stores with the stream id of the sources as read, and writes its rows through commitComposed', async () => {
    const { c, media } = composer({ pcm: Buffer.alloc(32_000) });
    await expect(c.run(SESSION, 'auto')).resolves.toMatchObject({ status: 'composed', artifactId: 'artifact-1' });
    expect(media.upload).toHaveBeenCalledWith(expect.objectContaining({ kind: 'recording', rtmsStreamId: 'stream-1' }), 'mp4', expect.any(String), expect.any(AbortSignal));
    expect(media.commitComposed).toHaveBeenCalledWith(SESSION, [wavSource('0', T0 + 1000)], [expect.objectContaining({ kind: 'recording' })]);
  });

  it('without the mixed stream, downloads each participant’s WAV once for the recording and their own files', async () => {
    const audio = [wavSource('16778240', T0 + 1000), wavSource('16779264', T0 + 1000)];
    const { c, media, engine, participantEncoder } = composer({ pcm: Buffer.alloc(32_000), audio, capturePolicy: { recording: { participant_audio: 'opus' } } });
    await expect(c.run(SESSION, 'auto')).resolves.toMatchObject({ status: 'composed' });
    expect(media.download.mock.calls.map(([key]) => key)).toEqual(audio.map((a) => a.storageKey));
    // Both the recording and each participant's file are made of those downloads.
    expect(engine.compose.mock.calls[0][0].audio.map((a: { userId: string | null }) => a.userId)).toEqual(['16778240', '16779264']);
    expect(participantEncoder.participantAudio.mock.calls.map(([input]) => [input.userId, input.audio.length])).toEqual([
      ['16778240', 1],
      ['16779264', 1],
    ]);
  });

  it('sources gone meanwhile: nothing stored, retried (the next attempt plans from what is left)', async () => {
    const { c, media, ready } = composer({ pcm: Buffer.alloc(32_000) });
    media.commitComposed.mockResolvedValueOnce({ status: 'sources_changed', changed: 1 } as never);
    await expect(c.run(SESSION, 'auto')).rejects.toMatchObject({ name: 'ComposeFailure', retryable: true });
    expect(ready.announceComposed).not.toHaveBeenCalled();
  });

  it('the session deleted meanwhile: the job ends, nothing recorded or announced', async () => {
    const { c, media, ready, compositions } = composer({ pcm: Buffer.alloc(32_000) });
    media.commitComposed.mockResolvedValueOnce({ status: 'session_gone' } as never);
    await expect(c.run(SESSION, 'auto')).resolves.toEqual({ status: 'skipped', reason: 'no_session' });
    expect(ready.announceComposed).not.toHaveBeenCalled();
    expect(compositions.setState).not.toHaveBeenCalledWith(SESSION, expect.anything(), 'failed', expect.anything());
  });
});
