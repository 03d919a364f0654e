/**
 * A minimal MPEG transport stream muxer for one H.264 elementary stream.
 *
 * Why MPEG-TS: stored segments are raw Annex-B, which carries no timestamps, and ffmpeg
 * reads raw H.264 only at a constant, assumed frame rate. A transport stream carries
 * Annex-B as is (parameter sets in band, so participants with different resolutions can
 * follow each other) and gives every access unit its own 90 kHz PTS. The engine wraps
 * each access unit with its Zoom timestamp here, and ffmpeg then sees the true capture
 * time of every frame: no frame-rate guess, no drift, whatever the jitter or the gaps.
 */

const PACKET = 188;
const PAT_PID = 0x0000;
const PMT_PID = 0x1000;
export const VIDEO_PID = 0x0100;
const STREAM_TYPE_H264 = 0x1b;
/** PAT and PMT are repeated this often (access units) so a reader can join anywhere. */
const PSI_INTERVAL = 100;
const AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32/MPEG-2 of the PSI sections. */
export function crc32Mpeg2(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]) >>> 0;
  return crc >>> 0;
}

/** The 5-byte PTS field ('0010' prefix: PTS only). */
function ptsField(pts90k: number): Buffer {
  const b = Buffer.alloc(5);
  const high = Math.floor(pts90k / 2 ** 30) & 0x07; // bits 32..30
  const mid = Math.floor(pts90k / 2 ** 15) & 0x7fff; // bits 29..15
  const low = pts90k & 0x7fff; // bits 14..0
  b[0] = 0x21 | (high << 1);
  b[1] = mid >> 7;
  b[2] = ((mid & 0x7f) << 1) | 1;
  b[3] = low >> 7;
  b[4] = ((low & 0x7f) << 1) | 1;
  return b;
}

/** The 6-byte PCR field (base in 90 kHz, extension 0). */
function pcrField(pcr90k: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt32BE(Math.floor(pcr90k / 2) >>> 0, 0); // bits 32..1
  b[4] = ((pcr90k & 1) << 7) | 0x7e;
  b[5] = 0;
  return b;
}

function section(tableId: number, tableIdExt: number, body: Buffer): Buffer {
  const length = 5 + body.length + 4; // after section_length: ext(2) version(1) numbers(2) body crc(4)
  const head = Buffer.from([tableId, 0xb0 | ((length >> 8) & 0x0f), length & 0xff, tableIdExt >> 8, tableIdExt & 0xff, 0xc1, 0x00, 0x00]);
  const withoutCrc = Buffer.concat([head, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Mpeg2(withoutCrc), 0);
  return Buffer.concat([withoutCrc, crc]);
}

export class MpegTsWriter {
  private readonly continuity = new Map<number, number>();
  private written = 0;

  /**
   * The packets of one access unit with presentation (= decode) time `pts90k`: Zoom's
   * video has no B-frames, so decode order is presentation order. PAT/PMT go first
   * every PSI_INTERVAL access units.
   */
  accessUnit(annexB: Uint8Array, pts90k: number): Buffer {
    const parts: Buffer[] = [];
    if (this.written++ % PSI_INTERVAL === 0) parts.push(this.psi(PAT_PID, this.pat()), this.psi(PMT_PID, this.pmt()));
    const startsWithAud = annexB.length > 4 && (annexB[2] === 1 ? annexB[3] & 0x1f : annexB[4] & 0x1f) === 9;
    const pesHeader = Buffer.concat([Buffer.from([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5]), ptsField(pts90k)]);
    const payload = Buffer.concat([pesHeader, startsWithAud ? Buffer.alloc(0) : AUD, annexB]);
    // The PCR trails the decode time a little, as a real muxer's does.
    parts.push(this.packetize(VIDEO_PID, payload, Math.max(0, pts90k - 900)));
    return Buffer.concat(parts);
  }

  private pat(): Buffer {
    return section(0x00, 1, Buffer.from([0x00, 0x01, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff]));
  }

  private pmt(): Buffer {
    const body = Buffer.from([
      0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, // PCR PID
      0xf0, 0x00, // program info length 0
      STREAM_TYPE_H264, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00,
    ]);
    return section(0x02, 1, body);
  }

  private psi(pid: number, sectionBytes: Buffer): Buffer {
    // pointer_field 0, then the section; one packet is enough for these tiny tables.
    return this.packetize(pid, Buffer.concat([Buffer.from([0]), sectionBytes]), null, false);
  }

  /**
   * Cuts `payload` into 188-byte packets; the first carries the PCR when given. A PES ends
   * its last packet with adaptation-field stuffing; a PSI section with 0xff after it.
   */
  private packetize(pid: number, payload: Buffer, pcr90k: number | null, stuffInAdaptation = true): Buffer {
    const packets: Buffer[] = [];
    let pos = 0;
    let first = true;
    while (pos < payload.length || first) {
      const packet = Buffer.alloc(PACKET, 0xff);
      const cc = this.continuity.get(pid) ?? 0;
      this.continuity.set(pid, (cc + 1) & 0x0f);
      packet[0] = 0x47;
      packet[1] = (first ? 0x40 : 0) | ((pid >> 8) & 0x1f);
      packet[2] = pid & 0xff;
      // The adaptation field's content after its length byte: the PCR, then stuffing.
      const fields: number[] = [];
      let hasAdaptation = false;
      if (first && pcr90k !== null) {
        fields.push(0x10, ...pcrField(pcr90k));
        hasAdaptation = true;
      }
      const remaining = payload.length - pos;
      const room = PACKET - 4 - (hasAdaptation ? 1 + fields.length : 0);
      if (stuffInAdaptation && remaining < room) {
        // Stuff inside the adaptation field so the PES payload ends the packet exactly.
        const fieldLength = PACKET - 5 - remaining;
        if (!hasAdaptation && fieldLength > 0) fields.push(0x00);
        hasAdaptation = true;
        while (fields.length < fieldLength) fields.push(0xff);
      }
      let offset = 4;
      if (hasAdaptation) {
        packet[3] = 0x30 | cc;
        packet[4] = fields.length;
        Buffer.from(fields).copy(packet, 5);
        offset = 5 + fields.length;
      } else {
        packet[3] = 0x10 | cc;
      }
      const take = Math.min(PACKET - offset, remaining);
      payload.copy(packet, offset, pos, pos + take);
      pos += take;
      first = false;
      packets.push(packet);
    }
    return Buffer.concat(packets);
  }
}
