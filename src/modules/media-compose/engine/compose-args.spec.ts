import { COMPOSE_VIDEO_PRESETS } from '../../../config/env.validation';
import { buildBlackPictureArgs, buildComposeArgs, buildParticipantAudioArgs, DEFAULT_ENCODER_SETTINGS, resolveVideoPreset, VIDEO_PRESET_CHOICES, videoFilter } from './compose-args';

const base = { width: 1280, height: 720, fps: 25, frames: 1500, prerollFrames: 3, holdSeconds: 2.5, pcmSampleRate: 16000, outFile: '/tmp/x y/recording.mp4', encoder: DEFAULT_ENCODER_SETTINGS };
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('compose arguments', () => {
  it('reads the MPEG-TS feed on pipe:3 and raw PCM on pipe:4, and writes an MP4 with the moov first', () => {
    const args = buildComposeArgs(base);
    expect(args.filter((a, i) => args[i - 1] === '-i')).toEqual(['pipe:3', 'pipe:4']);
    expect(args.slice(args.indexOf('pipe:3') - 3, args.indexOf('pipe:3') + 1)).toEqual(['-f', 'mpegts', '-i', 'pipe:3']);
    expect(args.slice(args.indexOf('pipe:4') - 7, args.indexOf('pipe:4') + 1)).toEqual(['-f', 's16le', '-ar', '16000', '-ac', '1', '-i', 'pipe:4']);
    expect(after(args, '-c:v')).toBe('libx264');
    expect(after(args, '-preset')).toBe('ultrafast'); // auto at 1280×720 25 fps
    expect(after(args, '-pix_fmt')).toBe('yuv420p');
    expect(after(args, '-c:a')).toBe('aac');
    expect(after(args, '-movflags')).toBe('+faststart');
    expect(after(args, '-reinit_filter')).toBe('0');
    // The output path is one argument, as given: no shell ever sees it.
    expect(args.at(-1)).toBe('/tmp/x y/recording.mp4');
    expect(args).toContain('-benchmark');
    // -frames:v would close the audio too when the video reaches it.
    expect(args).not.toContain('-frames:v');
  });

  it('tells ffmpeg not to close up a long video gap in the feed (a jump past any window is never a discontinuity)', () => {
    const args = buildComposeArgs(base);
    expect(Number(after(args, '-dts_delta_threshold'))).toBeGreaterThan(24 * 3600);
    expect(args.indexOf('-dts_delta_threshold')).toBeLessThan(args.indexOf('pipe:3'));
  });

  it('accepts exactly the presets COMPOSE_VIDEO_PRESET allows', () => {
    expect(VIDEO_PRESET_CHOICES).toEqual(COMPOSE_VIDEO_PRESETS);
  });

  it('picks veryfast up to 640×360 at 30 fps and ultrafast above it for auto; a named preset is kept', () => {
    expect(resolveVideoPreset('auto', 640, 360, 30)).toBe('veryfast');
    expect(resolveVideoPreset('auto', 640, 360, 25)).toBe('veryfast');
    expect(resolveVideoPreset('auto', 1280, 720, 25)).toBe('ultrafast');
    expect(resolveVideoPreset('auto', 640, 360, 60)).toBe('ultrafast');
    expect(resolveVideoPreset('medium', 1920, 1080, 30)).toBe('medium');
    expect(after(buildComposeArgs({ ...base, encoder: { ...DEFAULT_ENCODER_SETTINGS, videoPreset: 'auto' } }), '-preset')).toBe('ultrafast');
  });

  it('uses the configured encoder settings', () => {
    const args = buildComposeArgs({ ...base, encoder: { videoPreset: 'ultrafast', videoCrf: 28, audioBitrateKbps: 96, audioSampleRate: 44100 } });
    expect([after(args, '-preset'), after(args, '-crf'), after(args, '-b:a')]).toEqual(['ultrafast', '28', '96k']);
    // The first -ar is the PCM input's rate, the last the AAC output's.
    expect(args[args.lastIndexOf('-ar') + 1]).toBe('44100');
  });

  it('letterboxes to the output size, anchors the frame grid at the window start and cuts the exact frame count', () => {
    expect(videoFilter(base)).toBe(
      'scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,' +
        'fps=fps=25:start_time=0.120000000,setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop_duration=4,trim=end_frame=1500,format=yuv420p',
    );
  });

  it('encodes one participant’s audio to Opus in Ogg from pipe:3', () => {
    const args = buildParticipantAudioArgs({ pcmSampleRate: 16000, bitrateKbps: 32, outFile: 'u.ogg' });
    expect([after(args, '-i'), after(args, '-c:a'), after(args, '-b:a'), args.at(-3), args.at(-2), args.at(-1)]).toEqual(['pipe:3', 'libopus', '32k', '-f', 'ogg', 'u.ogg']);
  });

  it('prints one black baseline IDR picture at the output size to stdout', () => {
    const args = buildBlackPictureArgs(640, 360, 25);
    expect(after(args, '-i')).toBe('color=c=black:s=640x360:r=25');
    expect(after(args, '-frames:v')).toBe('1');
    expect(after(args, '-profile:v')).toBe('baseline');
    expect(args.slice(-3)).toEqual(['-f', 'h264', 'pipe:1']);
  });
});
