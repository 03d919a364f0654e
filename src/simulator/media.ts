/**
 * Synthetic media: real JPEG/PNG frames (cached per palette, resolution and cycle index),
 * real H.264 access units from the committed fixtures (h264.ts) and L16 PCM tones, one
 * distinct frequency per participant.
 */
import { deflateSync } from 'zlib';
import * as jpeg from 'jpeg-js';
import { participantClip, screenClip } from './h264';

/** Frames per participant cycle (the picture changes over time, then repeats). */
export const FRAME_CYCLE = 4;
const PALETTES: ReadonlyArray<readonly [number, number, number]> = [
  [220, 60, 60], [60, 160, 220], [70, 190, 90], [230, 180, 40], [160, 80, 200], [40, 200, 190],
  [240, 120, 30], [120, 120, 120], [200, 90, 150], [100, 60, 30], [30, 60, 140], [170, 210, 60],
];
export const PALETTE_COUNT = PALETTES.length;
/** Spread of the camera grain (grey levels). */
const GRAIN = 24;

export interface FrameSize {
  width: number;
  height: number;
}

export interface EncodedFrame {
  base64: string;
  length: number;
}

const cache = new Map<string, EncodedFrame>();

/** RGBA pixels: a palette-coloured background, a moving white bar and an id pattern (plus sensor-like noise when `grain`). */
function render(palette: number, index: number, size: FrameSize, screen: boolean, grain: boolean): Buffer {
  const { width, height } = size;
  const [r, g, b] = screen ? [235, 235, 240] : PALETTES[palette % PALETTES.length];
  const data = Buffer.alloc(width * height * 4);
  const barW = Math.max(4, Math.floor(width / 8));
  const barX = Math.floor(((index % FRAME_CYCLE) * (width - barW)) / Math.max(1, FRAME_CYCLE - 1));
  const block = Math.max(4, Math.floor(height / 10));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      let pr = r;
      let pg = g;
      let pb = b;
      if (x >= barX && x < barX + barW) {
        pr = 255;
        pg = 255;
        pb = 255;
      } else if (y < block && x < block * 4) {
        // palette id in binary, 4 blocks (so two palettes never look alike)
        const bit = Math.floor(x / block);
        const on = ((palette >> bit) & 1) === 1;
        pr = pg = pb = on ? 0 : 255;
      } else if (screen && y % 24 < 2) {
        pr = pg = pb = PALETTES[palette % PALETTES.length][0] / 2;
      }
      if (grain) {
        // Deterministic per pixel and frame: a flat picture compresses to a few KB, a camera's does not.
        const n = (Math.imul(x + 1, 73856093) ^ Math.imul(y + 1, 19349663) ^ Math.imul(index + 1, 83492791)) >>> 0;
        const d = (n % GRAIN) - GRAIN / 2;
        pr = Math.max(0, Math.min(255, pr + d));
        pg = Math.max(0, Math.min(255, pg + d));
        pb = Math.max(0, Math.min(255, pb + d));
      }
      data[o] = pr;
      data[o + 1] = pg;
      data[o + 2] = pb;
      data[o + 3] = 255;
    }
  }
  return data;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** Minimal PNG encoder (RGB, 8 bit, filter 0). */
export function encodePng(rgba: Buffer, width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 4;
      const d = y * (width * 3 + 1) + 1 + x * 3;
      raw[d] = rgba[s];
      raw[d + 1] = rgba[s + 1];
      raw[d + 2] = rgba[s + 2];
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * One encoded frame for (palette, cycle index, size, codec). Encoded lazily once and
 * shared by every meeting and simulator in the process. H.264 (codec 7) is access unit
 * `index` of the slot's (or the screen's) fixture loop, at the fixture's 640×360 whatever
 * `size` says; which unit a stream sends is h264-sequence.ts's business.
 */
export function videoFrame(palette: number, index: number, size: FrameSize, codec: number, screen = false, grain = false): EncodedFrame {
  if (codec === 7) {
    const units = (screen ? screenClip() : participantClip(palette)).units;
    return units[index % units.length];
  }
  const i = index % FRAME_CYCLE;
  const p = palette % PALETTES.length;
  const key = `${p}:${i}:${size.width}x${size.height}:${codec}:${screen ? 's' : 'c'}:${grain ? 'g' : ''}`;
  let f = cache.get(key);
  if (!f) {
    const rgba = render(p, i, size, screen, grain);
    const bytes = codec === 6 ? encodePng(rgba, size.width, size.height) : Buffer.from(jpeg.encode({ data: rgba, width: size.width, height: size.height }, 60).data);
    f = { base64: bytes.toString('base64'), length: bytes.length };
    cache.set(key, f);
  }
  return f;
}

/** Distinct tone frequency (Hz) for a participant palette slot. */
export function toneHz(slot: number): number {
  return 220 + (slot % 24) * 55;
}

/**
 * Signed 16-bit little-endian PCM for `[startSample, startSample+count)` of the sum of
 * the given tones (each at amplitude 0.3, clipped), `channels` interleaved copies.
 */
export function pcmTones(freqs: readonly number[], rateHz: number, startSample: number, count: number, channels: number): Buffer {
  const out = Buffer.alloc(count * 2 * channels);
  for (let i = 0; i < count; i++) {
    let v = 0;
    const t = (startSample + i) / rateHz;
    for (const f of freqs) v += 0.3 * Math.sin(2 * Math.PI * f * t);
    const s = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
    for (let c = 0; c < channels; c++) out.writeInt16LE(s, (i * channels + c) * 2);
  }
  return out;
}

export interface EncodedAudio {
  base64: string;
  length: number;
}

const audioCache = new Map<string, EncodedAudio>();
const AUDIO_CACHE_MAX = 20_000;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * One audio packet of pcmTones (µ-law encoded when `mulaw`), base64 as sent. A tone of
 * f Hz repeats every rate/gcd(f, rate) samples, so a packet depends only on its start
 * within that cycle: packets are computed once per phase and reused, which keeps the
 * simulator's cost per packet to a JSON message instead of hundreds of sines (the load
 * generator must not be what a benchmark measures).
 */
export function audioPacket(freqs: readonly number[], rateHz: number, startSample: number, count: number, channels: number, mulaw: boolean): EncodedAudio {
  let cycle = 1;
  for (const f of freqs) {
    const c = rateHz / gcd(Math.round(f), rateHz);
    cycle = (cycle * c) / gcd(cycle, c);
  }
  const key = `${freqs.join('+')}|${rateHz}|${count}|${channels}|${mulaw ? 'u' : 'l'}|${startSample % cycle}`;
  let packet = audioCache.get(key);
  if (!packet) {
    const pcm = pcmTones(freqs, rateHz, startSample % cycle, count, channels);
    const data = mulaw ? muLaw(pcm) : pcm;
    packet = { base64: data.toString('base64'), length: data.length };
    if (audioCache.size >= AUDIO_CACHE_MAX) audioCache.clear();
    audioCache.set(key, packet);
  }
  return packet;
}

/** A run of samples `[startSample, startSample+count)` in which the same tones sound. */
export interface ToneSegment {
  freqs: readonly number[];
  startSample: number;
  count: number;
}

/**
 * One audio packet made of consecutive segments (someone joins or leaves inside the packet, so
 * their tone starts or stops at the exact sample). Rare, so not cached.
 */
export function audioPacketOfSegments(segments: readonly ToneSegment[], rateHz: number, channels: number, mulaw: boolean): EncodedAudio {
  const pcm = Buffer.concat(segments.map((g) => pcmTones(g.freqs, rateHz, g.startSample, g.count, channels)));
  const data = mulaw ? muLaw(pcm) : pcm;
  return { base64: data.toString('base64'), length: data.length };
}

/** G.711 µ-law encode of L16 samples. */
export function muLaw(pcm: Buffer): Buffer {
  const out = Buffer.alloc(pcm.length / 2);
  for (let i = 0; i < out.length; i++) {
    let s = pcm.readInt16LE(i * 2);
    const sign = s < 0 ? 0x80 : 0;
    if (s < 0) s = -s;
    s = Math.min(32635, s) + 0x84;
    let exp = 7;
    for (let mask = 0x4000; (s & mask) === 0 && exp > 0; mask >>= 1) exp--;
    const mant = (s >> (exp + 3)) & 0x0f;
    out[i] = ~(sign | (exp << 4) | mant) & 0xff;
  }
  return out;
}
