import { execFileSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { fixturesDir, H264_SLOTS, loadClip, nalTypesOf, participantClip, screenClip, splitAccessUnits } from './h264';

const SLICE_TYPES = new Set([1, 5]);
const startsWithStartCode = (b: Buffer) => b.subarray(0, 3).equals(Buffer.from([0, 0, 1])) || b.subarray(0, 4).equals(Buffer.from([0, 0, 0, 1]));

/** Frames a decoder finds in a fixture file (ffprobe decodes every frame). */
function ffprobeFrames(file: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,profile,width,height,pix_fmt', '-of', 'json', file], { encoding: 'utf8' });
  const s = (JSON.parse(out) as { streams: Array<Record<string, unknown>> }).streams[0];
  expect(s).toMatchObject({ profile: 'Constrained Baseline', width: 640, height: 360, pix_fmt: 'yuv420p' });
  return Number(s.nb_read_frames);
}

describe('H.264 fixtures split into access units', () => {
  const names = [...Array.from({ length: H264_SLOTS }, (_, i) => `slot-${String(i).padStart(2, '0')}`), 'screen'];

  it.each(names)('%s: one unit per decoded frame, each with a start code and one slice, SPS+PPS on every IDR, nothing lost', (name) => {
    const file = join(fixturesDir(), `${name}.h264`);
    const units = loadClip(name).units;
    expect(units.length).toBe(ffprobeFrames(file));
    expect(Buffer.concat(units.map((u) => u.bytes)).equals(readFileSync(file))).toBe(true);
    units.forEach((u, i) => {
      expect(startsWithStartCode(u.bytes)).toBe(true);
      expect(u.nalTypes.filter((t) => SLICE_TYPES.has(t))).toHaveLength(1);
      expect(u.length).toBe(u.bytes.length);
      expect(Buffer.from(u.base64, 'base64').equals(u.bytes)).toBe(true);
      // GOP 15: IDRs at 0 and 15 of the 30-frame loop, and each carries its parameter sets first.
      expect(u.idr).toBe(i % 15 === 0);
      if (u.idr) expect(u.nalTypes).toEqual([7, 8, 5]);
      else expect(u.nalTypes).toEqual([1]);
    });
    expect(units).toHaveLength(30);
  });

  it('the build copies every fixture next to the compiled simulator (nest-cli.json assets), so dist/ runs on its own', () => {
    const nest = JSON.parse(readFileSync(join(__dirname, '../../nest-cli.json'), 'utf8')) as { sourceRoot: string; compilerOptions: { assets?: Array<{ include: string; outDir: string }> } };
    const rule = nest.compilerOptions.assets?.find((a) => a.include === 'simulator/fixtures/*.h264');
    // include is relative to sourceRoot (src); outDir dist/src puts them at dist/src/simulator/fixtures, next to h264.js.
    expect(nest.sourceRoot).toBe('src');
    expect(rule?.outDir).toBe('dist/src');
    expect(readdirSync(fixturesDir()).filter((f) => f.endsWith('.h264')).sort()).toEqual([...names].map((n) => `${n}.h264`).sort());
  });

  it('participant slots wrap around the 12 fixtures; the screen loop is its own', () => {
    expect(participantClip(13)).toBe(participantClip(1));
    expect(participantClip(0).units[0].base64).not.toBe(participantClip(1).units[0].base64);
    expect(screenClip().name).toBe('screen');
  });

  it('splits by picture: AUD/SEI/SPS/PPS open a unit after a slice, slices of one picture stay together, bytes before the first start code are dropped', () => {
    const sc4 = [0, 0, 0, 1];
    const sc3 = [0, 0, 1];
    const nal = (sc: number[], header: number, ...rest: number[]) => Buffer.from([...sc, header, ...rest]);
    const firstSlice = 0x80; // first_mb_in_slice = 0
    const laterSlice = 0x40; // first_mb_in_slice = 1
    const stream = Buffer.concat([
      Buffer.from([0xaa, 0xbb]),
      nal(sc4, 0x09, 0xf0), // AUD
      nal(sc4, 0x67, 1, 2), // SPS
      nal(sc4, 0x68, 3), // PPS
      nal(sc4, 0x06, 5, 0x80), // SEI
      nal(sc4, 0x65, firstSlice, 9), // IDR slice 1
      nal(sc3, 0x65, laterSlice, 9), // IDR slice 2 of the same picture
      nal(sc3, 0x41, firstSlice, 7), // next picture, no AUD
      nal(sc3, 0x41, laterSlice, 7),
      nal(sc4, 0x09, 0xf0), // AUD opens the third
      nal(sc4, 0x41, firstSlice, 8),
    ]);
    const units = splitAccessUnits(stream);
    expect(units.map(nalTypesOf)).toEqual([[9, 7, 8, 6, 5, 5], [1, 1], [9, 1]]);
    expect(units.every(startsWithStartCode)).toBe(true);
    expect(Buffer.concat(units).equals(stream.subarray(2))).toBe(true);
  });
});
