import { crc32Mpeg2, MpegTsWriter, VIDEO_PID } from './mpegts-writer';

/** The PTS in a PES header (bytes 9..13 after the start code), decoded back. */
function decodePts(b: Buffer): number {
  return ((b[0] >> 1) & 0x07) * 2 ** 30 + ((b[1] << 7) | (b[2] >> 1)) * 2 ** 15 + ((b[3] << 7) | (b[4] >> 1));
}

function packets(ts: Buffer): Buffer[] {
  return Array.from({ length: ts.length / 188 }, (_, i) => ts.subarray(i * 188, (i + 1) * 188));
}

/** Payload bytes of the packets of one PID, in order (adaptation fields skipped). */
function payloadOf(ts: Buffer, pid: number): Buffer {
  const parts: Buffer[] = [];
  for (const p of packets(ts)) {
    if ((((p[1] & 0x1f) << 8) | p[2]) !== pid) continue;
    const hasAdaptation = (p[3] & 0x20) !== 0;
    parts.push(p.subarray(hasAdaptation ? 5 + p[4] : 4));
  }
  return Buffer.concat(parts);
}

describe('MpegTsWriter', () => {
  it('computes CRC-32/MPEG-2 (check value of "123456789")', () => {
    expect(crc32Mpeg2(Buffer.from('123456789', 'ascii'))).toBe(0x0376e6e7);
  });

  it('wraps an access unit in whole 188-byte packets with its PTS, an AUD first, and the bytes intact', () => {
    const au = Buffer.concat([Buffer.from([0, 0, 0, 1, 0x65]), Buffer.alloc(1000, 7)]);
    const pts = 2 ** 32 + 123_456; // exercises the top bits of the 33-bit field
    const ts = new MpegTsWriter().accessUnit(au, pts);
    expect(ts.length % 188).toBe(0);
    expect(packets(ts).every((p) => p[0] === 0x47)).toBe(true);
    const pes = payloadOf(ts, VIDEO_PID);
    expect([...pes.subarray(0, 4)]).toEqual([0, 0, 1, 0xe0]);
    expect(decodePts(pes.subarray(9, 14))).toBe(pts);
    expect([...pes.subarray(14, 20)]).toEqual([0, 0, 0, 1, 0x09, 0xf0]);
    expect(pes.subarray(20).equals(au)).toBe(true);
  });

  it('sends PAT and PMT with valid CRCs before the first access unit, and counts continuity per PID', () => {
    const writer = new MpegTsWriter();
    const first = writer.accessUnit(Buffer.from([0, 0, 1, 0x65, 1]), 0);
    const second = writer.accessUnit(Buffer.from([0, 0, 1, 0x41, 1]), 3600);
    const all = packets(Buffer.concat([first, second]));
    const pids = all.map((p) => ((p[1] & 0x1f) << 8) | p[2]);
    expect(pids.slice(0, 2)).toEqual([0x0000, 0x1000]);
    for (const psi of all.slice(0, 2)) {
      const sectionLength = ((psi[6] & 0x0f) << 8) | psi[7];
      const section = psi.subarray(5, 5 + 3 + sectionLength);
      expect(crc32Mpeg2(section)).toBe(0); // a section followed by its CRC checks to 0
    }
    const videoCounters = all.filter((_, i) => pids[i] === VIDEO_PID).map((p) => p[3] & 0x0f);
    expect(videoCounters).toEqual(videoCounters.map((_, i) => i & 0x0f));
    // The second access unit does not repeat the tables.
    expect(packets(second).every((p) => (((p[1] & 0x1f) << 8) | p[2]) === VIDEO_PID)).toBe(true);
  });

  it('ends a packet holding 183 payload bytes with an empty adaptation field', () => {
    const writer = new MpegTsWriter();
    writer.accessUnit(Buffer.from([0, 0, 1, 0x65]), 0); // tables out of the way
    // The first packet carries the PCR (8 adaptation bytes) and 176 payload bytes; PES header 14
    // + AUD 6 + 339 bytes of access unit leave 183 for the second packet: one short of a full one.
    const ts = writer.accessUnit(Buffer.concat([Buffer.from([0, 0, 1, 0x41]), Buffer.alloc(335, 1)]), 90);
    const [firstPacket, secondPacket] = packets(ts);
    expect(packets(ts)).toHaveLength(2);
    expect(firstPacket[4]).toBe(7); // adaptation field: flags + PCR
    expect(secondPacket[3] & 0x30).toBe(0x30);
    expect(secondPacket[4]).toBe(0);
    expect(payloadOf(ts, VIDEO_PID).length).toBe(14 + 6 + 339);
  });
});
