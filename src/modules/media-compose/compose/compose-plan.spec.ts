import { audioRuns, engineInput, planComposition, PlanEvent, PlanSource, videoFrameTs } from './compose-plan';

const T0 = 1_796_500_000_000;

function videoSeg(userId: string, firstTs: number, frames: number, fps = 25, extra: Record<string, unknown> = {}): PlanSource {
  const step = 1000 / fps;
  const frameTs = Array.from({ length: frames }, (_, i) => Math.round(i * step));
  return {
    storageKey: `s/video/u_${userId}/${firstTs}.h264`,
    rtmsStreamId: 'st1',
    userId,
    userName: `User ${userId}`,
    capturedAt: new Date(firstTs),
    durationMs: frameTs[frames - 1] + step,
    meta: { codec: 'h264', frames, first_ts: firstTs, last_ts: firstTs + frameTs[frames - 1], frame_ts: frameTs, ...extra },
  };
}

function audioSeg(userId: string, firstTs: number, durationMs: number, gaps: Array<{ at_ms: number; missing_ms: number }> = []): PlanSource {
  return {
    storageKey: `s/audio/u_${userId}/${firstTs}.wav`,
    rtmsStreamId: 'st1',
    userId,
    userName: null,
    capturedAt: new Date(firstTs),
    durationMs,
    meta: { sample_rate: 16000, channels: 1, bits_per_sample: 16, first_ts: firstTs, gaps },
  };
}

const ev = (eventType: string, at: number, payload: Record<string, unknown> = {}): PlanEvent => ({ eventType, payload, createdAt: new Date(at) });

describe('videoFrameTs', () => {
  it('is first_ts plus each access unit offset', () => {
    expect(videoFrameTs({ first_ts: 1000, frame_ts: [0, 40, 80] })).toEqual([1000, 1040, 1080]);
  });

  it('names what is wrong with a malformed row instead of guessing', () => {
    expect(videoFrameTs({ frame_ts: [0] })).toBe('meta.first_ts missing');
    expect(videoFrameTs({ first_ts: 1, frame_ts: [] })).toBe('meta.frame_ts missing or empty');
    expect(videoFrameTs({ first_ts: 1, frame_ts: [0, '40'] })).toBe('meta.frame_ts holds a non-number');
  });
});

describe('audioRuns (a WAV with holes is placed run by run, not drifted)', () => {
  it('one run when the segment has no hole', () => {
    expect(audioRuns({ sample_rate: 16000, channels: 1 }, T0, 'a-0')).toEqual([{ startTs: T0, byteStart: 0, byteLength: null, file: 'a-0-0.wav' }]);
  });

  it('each hole starts a run at the timestamp where sound resumes, its PCM after what played before', () => {
    // 16 kHz mono = 32 bytes/ms. 500 ms of sound, a 300 ms hole, 200 ms of sound, a 1 s hole, the rest.
    const runs = audioRuns({ sample_rate: 16000, channels: 1, gaps: [{ at_ms: T0 + 500, missing_ms: 300 }, { at_ms: T0 + 1000, missing_ms: 1000 }] }, T0, 'a-3');
    expect(runs).toEqual([
      { startTs: T0, byteStart: 0, byteLength: 500 * 32, file: 'a-3-0.wav' },
      { startTs: T0 + 800, byteStart: 500 * 32, byteLength: 200 * 32, file: 'a-3-1.wav' },
      { startTs: T0 + 2000, byteStart: 700 * 32, byteLength: null, file: 'a-3-2.wav' },
    ]);
  });

  it('keeps byte offsets on whole sample frames (stereo: 4 bytes)', () => {
    const runs = audioRuns({ sample_rate: 44100, channels: 2, gaps: [{ at_ms: T0 + 10.01, missing_ms: 5 }] }, T0, 'a');
    expect(typeof runs).not.toBe('string');
    for (const r of runs as Array<{ byteStart: number; byteLength: number | null }>) {
      expect(r.byteStart % 4).toBe(0);
      if (r.byteLength !== null) expect(r.byteLength % 4).toBe(0);
    }
  });

  it('refuses a row without a sample rate', () => {
    expect(audioRuns({ channels: 1 }, T0, 'a')).toBe('meta.sample_rate missing');
  });
});

describe('planComposition', () => {
  it('spans the session from start to end, widened to any media outside it', () => {
    const plan = planComposition({
      startedAt: new Date(T0 + 200),
      endedAt: new Date(T0 + 10_000),
      video: [videoSeg('1', T0 + 100, 50)],
      audio: [audioSeg('0', T0 + 300, 9_000)],
      events: [],
    });
    expect(plan.startTs).toBe(T0 + 100);
    expect(plan.endTs).toBe(T0 + 10_000);
    expect(plan.video.map((v) => v.file)).toEqual(['v-00000.h264']);
    expect(plan.video[0].frameTs.slice(0, 3)).toEqual([T0 + 100, T0 + 140, T0 + 180]);
  });

  it('ends a WAV with holes where its sound ends, not at capturedAt + duration_ms (which counts the PCM only)', () => {
    // 1 s of sound at 50 s, a 10 s hole (everyone muted), 1 s of sound from 61 s: duration_ms 2000, the sound ends at 62 s.
    const wav = audioSeg('0', T0 + 50_000, 2000, [{ at_ms: T0 + 51_000, missing_ms: 10_000 }]);
    const plan = planComposition({ startedAt: new Date(T0), endedAt: new Date(T0 + 61_500), video: [], audio: [wav], events: [] });
    expect(plan.audio[0].runs.map((r) => r.startTs)).toEqual([T0 + 50_000, T0 + 61_000]);
    expect(plan.endTs).toBe(T0 + 62_000);
    expect(plan.audio[0].endTs).toBe(T0 + 62_000);
    // An interruption after it starts where that sound ended.
    const later = planComposition({ startedAt: new Date(T0), endedAt: new Date(T0 + 70_000), video: [], audio: [wav, audioSeg('0', T0 + 65_000, 1000)], events: [ev('stream.reconnect', T0 + 64_000)] });
    expect(later.knownGaps).toEqual([{ fromTs: T0 + 62_000, toTs: T0 + 65_000, reason: 'interrupted' }]);
  });

  it('prefers Zoom mixed audio (user 0) over the participants’ own tracks', () => {
    const plan = planComposition({ startedAt: new Date(T0), endedAt: new Date(T0 + 5000), video: [], audio: [audioSeg('16778240', T0, 5000), audioSeg('0', T0, 5000)], events: [] });
    expect(plan.audioSource).toBe('mixed');
    expect(plan.audio.map((a) => a.userId)).toEqual([null]);
  });

  it('mixes the participants down when there is no mixed stream', () => {
    const plan = planComposition({ startedAt: new Date(T0), endedAt: new Date(T0 + 5000), video: [], audio: [audioSeg('1', T0, 5000), audioSeg('2', T0 + 10, 4000)], events: [] });
    expect(plan.audioSource).toBe('participants');
    expect(plan.audio.map((a) => [a.userId, a.file])).toEqual([
      ['1', 'a-00000.wav'],
      ['2', 'a-00001.wav'],
    ]);
  });

  it('plans each participant’s own audio when per-participant files are asked for (the recording keeps the mixed stream)', () => {
    const req = { startedAt: new Date(T0), endedAt: new Date(T0 + 5000), video: [], audio: [audioSeg('0', T0, 5000), audioSeg('1', T0, 5000), audioSeg('2', T0 + 10, 4000)], events: [] };
    expect(planComposition(req).participants).toEqual([]);
    const plan = planComposition({ ...req, participantAudio: true });
    expect(plan.audio.map((a) => a.userId)).toEqual([null]);
    expect(plan.participants.map((p) => [p.userId, p.file, p.runs[0].file])).toEqual([
      ['1', 'p-00000.wav', 'p-00000-0.wav'],
      ['2', 'p-00001.wav', 'p-00001-0.wav'],
    ]);
  });

  it('plans the participants’ own files on the very pieces of the recording when there is no mixed stream (downloaded once)', () => {
    const plan = planComposition({ startedAt: new Date(T0), endedAt: new Date(T0 + 5000), video: [], audio: [audioSeg('1', T0, 5000), audioSeg('2', T0 + 10, 4000)], events: [], participantAudio: true });
    expect(plan.audioSource).toBe('participants');
    expect(plan.participants).toBe(plan.audio);
    expect(plan.skipped).toEqual([]);
  });

  it('plans a long meeting of 140 000 sources (no spread of every source into Math.min, which overflows the stack)', () => {
    // 40 participants' own audio in 1 s pieces for almost an hour, with a 10 s hole where the stream was interrupted.
    const audio: PlanSource[] = [];
    for (let s = 0; s < 3500; s++) if (s < 1750 || s >= 1760) for (let u = 1; u <= 40; u++) audio.push(audioSeg(String(u), T0 + s * 1000, 1000));
    expect(audio.length).toBeGreaterThan(125_000);
    const plan = planComposition({ startedAt: new Date(T0 + 1000), endedAt: new Date(T0 + 3_000_000), video: [], audio, events: [ev('stream.reconnect', T0 + 1_755_000)] });
    expect([plan.startTs, plan.endTs]).toEqual([T0, T0 + 3_500_000]);
    expect(plan.audio).toHaveLength(audio.length);
    expect(plan.knownGaps).toEqual([{ fromTs: T0 + 1_750_000, toTs: T0 + 1_760_000, reason: 'interrupted' }]);
  });

  it('leaves out a malformed source and says which', () => {
    const bad = videoSeg('1', T0, 10, 25, { frame_ts: 'nope' });
    const plan = planComposition({ startedAt: new Date(T0), endedAt: new Date(T0 + 1000), video: [bad, videoSeg('2', T0, 10)], audio: [], events: [] });
    expect(plan.video.map((v) => v.source.userId)).toEqual(['2']);
    expect(plan.skipped).toEqual([{ storage_key: bad.storageKey, reason: 'meta.frame_ts missing or empty' }]);
  });

  it('gathers known gaps: paused periods, an interruption bounded by the media around it, keyframe waits', () => {
    const plan = planComposition({
      startedAt: new Date(T0),
      endedAt: new Date(T0 + 60_000),
      video: [videoSeg('1', T0, 250) /* 0–10 s */, videoSeg('1', T0 + 30_000, 250) /* 30–40 s */],
      audio: [audioSeg('0', T0, 10_000), audioSeg('0', T0 + 31_000, 29_000)],
      events: [
        ev('session.status_changed', T0 + 12_000, { from: 'streaming', to: 'paused' }),
        ev('session.status_changed', T0 + 20_000, { from: 'paused', to: 'streaming' }),
        // A takeover recorded when the new worker took the stream (after the old one died at ~10 s).
        ev('stream.reconnect', T0 + 25_000, { cause: 'takeover' }),
        ev('video.keyframe_wait', T0 + 30_000, { waited_ms: 400, dropped_units: 9 }),
        ev('session.status_changed', T0 + 50_000, { from: 'streaming', to: 'paused' }),
      ],
    });
    expect(plan.knownGaps).toEqual([
      { fromTs: T0 + 10_000, toTs: T0 + 30_000, reason: 'interrupted' },
      { fromTs: T0 + 12_000, toTs: T0 + 20_000, reason: 'paused' },
      { fromTs: T0 + 29_600, toTs: T0 + 30_000, reason: 'no_video' },
      // Still paused when the session ended: to the end of the window.
      { fromTs: T0 + 50_000, toTs: T0 + 60_000, reason: 'paused' },
    ]);
    expect(plan.keyframeWaits).toBe(1);
  });

  it('clips gaps to the window and drops empty ones', () => {
    const plan = planComposition({
      startedAt: new Date(T0),
      endedAt: new Date(T0 + 5000),
      video: [videoSeg('1', T0, 125)],
      audio: [],
      events: [ev('video.keyframe_wait', T0 + 100, { waited_ms: 1000 }), ev('video.keyframe_wait', T0 + 200, { waited_ms: 0 })],
    });
    expect(plan.knownGaps).toEqual([{ fromTs: T0, toTs: T0 + 100, reason: 'no_video' }]);
  });

  it('builds the engine input with absolute paths, one audio piece per run', () => {
    const plan = planComposition({
      startedAt: new Date(T0),
      endedAt: new Date(T0 + 3000),
      video: [videoSeg('7', T0, 75)],
      audio: [audioSeg('0', T0, 2500, [{ at_ms: T0 + 1000, missing_ms: 500 }])],
      events: [],
    });
    const input = engineInput(plan, '/w', { width: 640, height: 360, fps: 25 }, (...p) => p.join('/'));
    expect(input.startTs).toBe(T0);
    expect(input.endTs).toBe(T0 + 3000);
    expect(input.video).toEqual([{ path: '/w/v-00000.h264', userId: '7', frameTs: plan.video[0].frameTs }]);
    expect(input.audio).toEqual([
      { path: '/w/a-00000-0.wav', startTs: T0, userId: null },
      { path: '/w/a-00000-1.wav', startTs: T0 + 1500, userId: null },
    ]);
    expect(input.output).toEqual({ width: 640, height: 360, fps: 25 });
  });
});
