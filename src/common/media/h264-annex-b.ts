/**
 * H.264 Annex-B byte streams (ITU-T H.264 Annex B): NAL units behind 00 00 01 or
 * 00 00 00 01 start codes, and the access-unit boundaries between them (§7.4.1.2.3).
 */

export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;

export const START_CODE = Buffer.from([0, 0, 0, 1]);

export function nalType(nal: Buffer): number {
  return nal.length > 0 ? nal[0] & 0x1f : -1;
}

/** A coded slice (types 1–5): the picture itself. */
export function isVcl(type: number): boolean {
  return type >= 1 && type <= 5;
}

/** A NAL unit of an Annex-B buffer. */
export interface NalUnit {
  /** The unit without its start code and trailing zero bytes (what its header and syntax are read from). */
  data: Buffer;
  /** The unit as it was in the buffer: its start code, the unit, and any zero bytes up to the next start code. */
  raw: Buffer;
}

/**
 * A copy of `nal` that owns its bytes. Units kept past their message (parameter sets,
 * units carried to the next message) must not be views: a 5-byte SPS would keep the whole
 * message it came in — a megabyte keyframe — alive for as long as it is kept.
 */
export function detachNal(nal: NalUnit): NalUnit {
  const raw = Buffer.from(nal.raw);
  const start = nal.data.byteOffset - nal.raw.byteOffset;
  return { raw, data: raw.subarray(start, start + nal.data.length) };
}

/**
 * The NAL units of an Annex-B buffer (views into `buf`). Bytes before the first start
 * code are not a NAL unit and are skipped. Concatenating every `raw` gives `buf` back from
 * its first start code on, byte for byte.
 */
export function splitNalUnits(buf: Buffer): NalUnit[] {
  const starts: Array<{ at: number; len: number }> = [];
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] !== 0 || buf[i + 1] !== 0) continue;
    if (buf[i + 2] === 1) {
      starts.push({ at: i, len: 3 });
      i += 2;
    } else if (buf[i + 2] === 0 && i + 3 < buf.length && buf[i + 3] === 1) {
      starts.push({ at: i, len: 4 });
      i += 3;
    }
  }
  const out: NalUnit[] = [];
  starts.forEach((s, k) => {
    const next = k + 1 < starts.length ? starts[k + 1].at : buf.length;
    let end = next;
    while (end > s.at + s.len && buf[end - 1] === 0) end--;
    if (end > s.at + s.len) out.push({ data: buf.subarray(s.at + s.len, end), raw: buf.subarray(s.at, next) });
  });
  return out;
}

/**
 * Whether `nal` opens a new access unit when the current one already holds a picture:
 * an AUD, SPS, PPS, SEI or types 14–18, or the first slice of the next picture
 * (first_mb_in_slice = 0, whose ue(v) code is a single 1 bit).
 */
export function startsAccessUnit(nal: Buffer): boolean {
  const type = nalType(nal);
  if (type === NAL_AUD || type === NAL_SPS || type === NAL_PPS || type === NAL_SEI || (type >= 14 && type <= 18)) return true;
  return isVcl(type) && nal.length > 1 && (nal[1] & 0x80) !== 0;
}

/** A NAL unit's data behind a 4-byte start code (for parameter sets put in front of a keyframe). */
export function withStartCode(data: Buffer): Buffer {
  return Buffer.concat([START_CODE, data]);
}
