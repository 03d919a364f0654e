/**
 * Real H.264 for video/deskshare codec 7: the committed fixtures (scripts/make-h264-fixture.sh,
 * one 30-frame loop per palette slot plus a "screen" loop) split once into access units, each
 * base64-encoded once, so a send is a lookup (the load generator must stay cheap).
 */
import { existsSync, readFileSync } from 'fs';
import { join, resolve } from 'path';

/** One frame's NAL units (SPS/PPS/SEI go with the slice that follows them), Annex-B with start codes. */
export interface AccessUnit {
  bytes: Buffer;
  base64: string;
  length: number;
  /** NAL unit types in order (7 SPS, 8 PPS, 5 IDR slice, 1 non-IDR slice …). */
  nalTypes: number[];
  idr: boolean;
}

export interface H264Clip {
  name: string;
  units: AccessUnit[];
}

/** Fixture slots (media.ts has as many palettes; slot n uses slot-(n mod 12)). */
export const H264_SLOTS = 12;

const NAL_SEI = 6;
const NAL_SPS = 7;
const NAL_PPS = 8;
const NAL_AUD = 9;
const NAL_IDR = 5;

interface Nal {
  /** Offset of the start code (a 4-byte one includes its leading zero). */
  at: number;
  type: number;
  /** first_mb_in_slice is 0 (a VCL NAL that opens a new picture). */
  firstSlice: boolean;
}

function nalUnits(buf: Buffer): Nal[] {
  const out: Nal[] = [];
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] !== 0 || buf[i + 1] !== 0 || buf[i + 2] !== 1) continue;
    const at = i > 0 && buf[i - 1] === 0 && (out.length === 0 || i - 1 > out[out.length - 1].at) ? i - 1 : i;
    const header = buf[i + 3];
    const type = header & 0x1f;
    // ue(v) first_mb_in_slice = 0 is the single bit '1', the first bit after the NAL header.
    const firstSlice = (type === 1 || type === NAL_IDR) && i + 4 < buf.length && (buf[i + 4] & 0x80) !== 0;
    out.push({ at, type, firstSlice });
    i += 3;
  }
  return out;
}

/**
 * Splits an Annex-B byte stream into access units: a new one starts at an SPS, PPS, SEI or AUD
 * that follows a slice, or at a slice with first_mb_in_slice 0 when the current unit already
 * has one (H.264 §7.4.1.2.3, for streams without AUDs). Bytes before the first start code are dropped.
 */
export function splitAccessUnits(buf: Buffer): Buffer[] {
  const nals = nalUnits(buf);
  const units: Buffer[] = [];
  let start = -1;
  let hasSlice = false;
  for (const n of nals) {
    const isSlice = n.type >= 1 && n.type <= 5;
    const opensUnit = isSlice ? hasSlice && n.firstSlice : hasSlice && (n.type === NAL_SEI || n.type === NAL_SPS || n.type === NAL_PPS || n.type === NAL_AUD || (n.type >= 14 && n.type <= 18));
    if (start < 0) start = n.at;
    else if (opensUnit) {
      units.push(buf.subarray(start, n.at));
      start = n.at;
      hasSlice = false;
    }
    if (isSlice) hasSlice = true;
  }
  if (start >= 0) units.push(buf.subarray(start));
  return units;
}

/** NAL unit types of one access unit, in order. */
export function nalTypesOf(unit: Buffer): number[] {
  return nalUnits(unit).map((n) => n.type);
}

function toAccessUnit(bytes: Buffer): AccessUnit {
  const copy = Buffer.from(bytes); // own the memory (not a view into the whole file)
  const nalTypes = nalTypesOf(copy);
  return { bytes: copy, base64: copy.toString('base64'), length: copy.length, nalTypes, idr: nalTypes.includes(NAL_IDR) };
}

/**
 * Where the fixtures are: next to this file (ts-jest, and `dist/` when nest-cli copied them as
 * assets), else in the source tree (a `dist/` build without the assets).
 */
export function fixturesDir(): string {
  const candidates = [join(__dirname, 'fixtures'), resolve(__dirname, '../../../src/simulator/fixtures')];
  const dir = candidates.find((d) => existsSync(join(d, 'screen.h264')));
  if (!dir) throw new Error(`H.264 fixtures not found (looked in ${candidates.join(', ')}); run scripts/make-h264-fixture.sh`);
  return dir;
}

const clips = new Map<string, H264Clip>();

/** A fixture loop by file name (without `.h264`), split and encoded once per process. */
export function loadClip(name: string): H264Clip {
  let clip = clips.get(name);
  if (!clip) {
    const units = splitAccessUnits(readFileSync(join(fixturesDir(), `${name}.h264`))).map(toAccessUnit);
    const first = units[0];
    // The loop restarts at unit 0, and a switch or (re)start sends it first: it must be an entry point.
    if (!first || !first.idr || !first.nalTypes.includes(NAL_SPS) || !first.nalTypes.includes(NAL_PPS)) throw new Error(`H.264 fixture ${name} must start with SPS+PPS+IDR`);
    clip = { name, units };
    clips.set(name, clip);
  }
  return clip;
}

/** The camera loop of a participant palette slot. */
export function participantClip(slot: number): H264Clip {
  return loadClip(`slot-${String(((slot % H264_SLOTS) + H264_SLOTS) % H264_SLOTS).padStart(2, '0')}`);
}

/** The screen-share loop (deskshare). */
export function screenClip(): H264Clip {
  return loadClip('screen');
}
