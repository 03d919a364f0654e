/**
 * Access units (one coded picture each, with the parameter sets and SEI that precede it)
 * of an H.264 Annex-B byte stream, on the hub's one Annex-B reader
 * (common/media/h264-annex-b: NAL units and the §7.4.1.2.3 first-picture rules).
 */
import { isVcl, NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, nalType, splitNalUnits, startsAccessUnit, withStartCode } from '../../../common/media/h264-annex-b';

export interface AccessUnit {
  /** Byte offset of the access unit's first start code in the stream. */
  offset: number;
  length: number;
  /** Contains an IDR slice: decoding can start here. */
  idr: boolean;
  /** Carries an SPS (its own parameter sets: decodable whatever came before). */
  sps: boolean;
}

const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/** Where a NAL unit (a view into `buf`) starts in it, start code included. */
const offsetIn = (buf: Buffer, raw: Buffer): number => raw.byteOffset - buf.byteOffset;

export function splitAccessUnits(bytes: Uint8Array): AccessUnit[] {
  const buf = asBuffer(bytes);
  const units: AccessUnit[] = [];
  let current: { offset: number; idr: boolean; sps: boolean; hasPicture: boolean } | null = null;
  for (const nal of splitNalUnits(buf)) {
    const type = nalType(nal.data);
    const offset = offsetIn(buf, nal.raw);
    if (!current || (current.hasPicture && startsAccessUnit(nal.data))) {
      if (current) units.push({ offset: current.offset, length: offset - current.offset, idr: current.idr, sps: current.sps });
      current = { offset, idr: false, sps: false, hasPicture: false };
    }
    if (isVcl(type)) current.hasPicture = true;
    if (type === NAL_IDR) current.idr = true;
    if (type === NAL_SPS) current.sps = true;
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
  const sets = splitNalUnits(asBuffer(unit)).filter((nal) => nalType(nal.data) === NAL_SPS || nalType(nal.data) === NAL_PPS);
  return Buffer.concat(sets.map((nal) => withStartCode(nal.data)));
}

/** `unit` with `params` inserted after its access unit delimiter (if it starts with one), or first. */
export function withParameterSets(unit: Uint8Array, params: Buffer): Buffer {
  const buf = asBuffer(unit);
  const nals = splitNalUnits(buf);
  const startsWithAud = nals.length > 0 && nalType(nals[0].data) === NAL_AUD;
  const at = startsWithAud ? (nals.length > 1 ? offsetIn(buf, nals[1].raw) : buf.length) : 0;
  return Buffer.concat([buf.subarray(0, at), params, buf.subarray(at)]);
}
