/**
 * Splits an H.264 Annex-B byte stream into access units (one coded picture each, with the
 * parameter sets and SEI that precede it), following the first-picture detection rules of
 * ITU-T H.264 §7.4.1.2.3: a new access unit starts at an AUD, SPS, PPS, SEI or prefix NAL
 * that follows a picture's slices, or at a slice whose first_mb_in_slice is 0.
 */

export interface AccessUnit {
  /** Byte offset of the access unit's first start code in the stream. */
  offset: number;
  length: number;
  /** Contains an IDR slice: decoding can start here. */
  idr: boolean;
  /** Carries an SPS (its own parameter sets: decodable whatever came before). */
  sps: boolean;
}

const NAL_SLICE = 1;
const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_AUD = 9;
const NAL_PPS = 8;

/** Offsets of every NAL unit's first payload byte (just after its 00 00 01 start code). */
function nalPayloadOffsets(buf: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      offsets.push(i + 3);
      i += 2;
    }
  }
  return offsets;
}

/** Where the start code before a NAL payload begins (3- or 4-byte start codes). */
function startCodeOffset(buf: Uint8Array, payload: number, floor: number): number {
  const three = payload - 3;
  return three - 1 >= floor && buf[three - 1] === 0 ? three - 1 : three;
}

export function splitAccessUnits(buf: Uint8Array): AccessUnit[] {
  const units: AccessUnit[] = [];
  let current: { offset: number; idr: boolean; sps: boolean; hasPicture: boolean } | null = null;
  let floor = 0;
  for (const payload of nalPayloadOffsets(buf)) {
    if (payload >= buf.length) break;
    const type = buf[payload] & 0x1f;
    const vcl = type === NAL_SLICE || type === NAL_IDR;
    // ue(v) first_mb_in_slice = 0 is the single bit '1' right after the one-byte NAL header.
    const firstSliceOfPicture = vcl && payload + 1 < buf.length && (buf[payload + 1] & 0x80) !== 0;
    const opensUnit = type === NAL_AUD || type === NAL_SPS || type === NAL_PPS || type === 6 || (type >= 14 && type <= 18) || firstSliceOfPicture;
    const start = startCodeOffset(buf, payload, floor);
    if (!current || (current.hasPicture && opensUnit)) {
      if (current) units.push({ offset: current.offset, length: start - current.offset, idr: current.idr, sps: current.sps });
      current = { offset: start, idr: false, sps: false, hasPicture: false };
    }
    if (vcl) current.hasPicture = true;
    if (type === NAL_IDR) current.idr = true;
    if (type === NAL_SPS) current.sps = true;
    floor = payload;
  }
  if (current) units.push({ offset: current.offset, length: buf.length - current.offset, idr: current.idr, sps: current.sps });
  return units;
}

/**
 * The SPS and PPS NAL units (with start codes) of an access unit. An encoder may send its
 * parameter sets only before a stream's first IDR; a later IDR of the same stream, fed to
 * the decoder right after another participant's pictures, needs them sent again.
 */
export function parameterSets(unit: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  const payloads = nalPayloadOffsets(unit);
  payloads.forEach((payload, i) => {
    const type = unit[payload] & 0x1f;
    if (type !== NAL_SPS && type !== NAL_PPS) return;
    const end = i + 1 < payloads.length ? startCodeOffset(unit, payloads[i + 1], payload) : unit.length;
    parts.push(Buffer.from([0, 0, 0, 1]), Buffer.from(unit.subarray(payload, end)));
  });
  return Buffer.concat(parts);
}

/** `unit` with `params` inserted after its access unit delimiter (if it starts with one), or first. */
export function withParameterSets(unit: Uint8Array, params: Buffer): Buffer {
  const payloads = nalPayloadOffsets(unit);
  const startsWithAud = payloads.length > 0 && (unit[payloads[0]] & 0x1f) === NAL_AUD;
  const at = startsWithAud ? (payloads.length > 1 ? startCodeOffset(unit, payloads[1], payloads[0]) : unit.length) : 0;
  return Buffer.concat([unit.subarray(0, at), params, unit.subarray(at)]);
}
