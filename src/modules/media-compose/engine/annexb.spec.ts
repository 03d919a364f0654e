import { parameterSets, splitAccessUnits, withParameterSets } from './annexb';

const SC4 = [0, 0, 0, 1];
const SC3 = [0, 0, 1];
/** NAL units by type; slices carry first_mb_in_slice = 0 (first bit 1) unless `continued`. */
const sps = [...SC4, 0x67, 0x42, 0xc0, 0x1e];
const pps = [...SC4, 0x68, 0xce, 0x3c, 0x80];
const idr = (continued = false) => [...SC3, 0x65, continued ? 0x40 : 0x88, 0x84, 0x00];
const slice = (continued = false) => [...SC4, 0x41, continued ? 0x40 : 0x9a, 0x02, 0x03];
const aud = [...SC4, 0x09, 0xf0];
const sei = [...SC4, 0x06, 0x05, 0x01, 0x80];

describe('splitAccessUnits', () => {
  it('groups parameter sets with the IDR they precede and starts a unit at each new picture', () => {
    const stream = Uint8Array.from([...sps, ...pps, ...idr(), ...slice(), ...slice()]);
    const units = splitAccessUnits(stream);
    expect(units.map((u) => u.idr)).toEqual([true, false, false]);
    expect(units[0]).toEqual({ offset: 0, length: sps.length + pps.length + idr().length, idr: true, sps: true });
    expect(units[1].sps).toBe(false);
    expect(units[1].offset).toBe(units[0].length);
    expect(units.reduce((n, u) => n + u.length, 0)).toBe(stream.length);
  });

  it('keeps the slices of one picture together (first_mb_in_slice ≠ 0 continues it)', () => {
    const stream = Uint8Array.from([...sps, ...pps, ...idr(), ...idr(true), ...slice(), ...slice(true), ...slice(true)]);
    const units = splitAccessUnits(stream);
    expect(units).toHaveLength(2);
    expect(units[1]).toEqual({ offset: sps.length + pps.length + 2 * idr().length, length: 3 * slice().length, idr: false, sps: false });
  });

  it('opens a unit at an AUD or SEI that follows a picture', () => {
    const stream = Uint8Array.from([...aud, ...sps, ...pps, ...idr(), ...aud, ...sei, ...slice(), ...sei, ...slice()]);
    const units = splitAccessUnits(stream);
    expect(units.map((u) => [u.offset, u.idr])).toEqual([
      [0, true],
      [aud.length + sps.length + pps.length + idr().length, false],
      [aud.length + sps.length + pps.length + idr().length + aud.length + sei.length + slice().length, false],
    ]);
  });

  it('extracts an access unit’s SPS and PPS (with 4-byte start codes) to send again before a later IDR', () => {
    const unit = Uint8Array.from([...aud, ...sps, ...SC3, ...pps.slice(4), ...sei, ...idr()]);
    expect([...parameterSets(unit)]).toEqual([...sps, ...pps]);
    expect(parameterSets(Uint8Array.from(slice())).length).toBe(0);
  });

  it('puts resent parameter sets after the access unit delimiter, or first when there is none', () => {
    const params = Buffer.from([...sps, ...pps]);
    expect([...withParameterSets(Uint8Array.from([...aud, ...idr()]), params)]).toEqual([...aud, ...sps, ...pps, ...idr()]);
    expect([...withParameterSets(Uint8Array.from(idr()), params)]).toEqual([...sps, ...pps, ...idr()]);
  });

  it('returns nothing for an empty buffer', () => {
    expect(splitAccessUnits(new Uint8Array(0))).toEqual([]);
  });
});
