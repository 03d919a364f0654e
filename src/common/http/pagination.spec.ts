import { decodeCursor, encodeCursor } from './pagination';

describe('keyset pagination', () => {
  const id = '3f1c2f9e-8a51-4f6b-9d1e-2c7a8b9e0f11';

  it('round-trips a cursor', () => {
    const at = new Date('2026-11-24T10:00:00.123Z');
    expect(decodeCursor(encodeCursor(at, id))).toEqual({ createdAt: at.toISOString(), id });
    expect(decodeCursor(undefined)).toBeUndefined();
  });

  const crafted = (c: unknown, i: unknown) => Buffer.from(JSON.stringify({ c, i })).toString('base64url');

  it.each([
    'garbage',
    Buffer.from('{"c":"x","i":"y"}').toString('base64url'),
    Buffer.from('[1]').toString('base64url'),
    crafted('2026-02-31T00:00:00.000Z', id),
    crafted('+275760-09-13T00:00:00.000Z', id),
    crafted('Tue, 01 Dec 2026 00:00:00 GMT', id),
    crafted('2026-12-01T00:00:00.000Z', '------------------------------------'),
    crafted('2026-12-01T00:00:00.000Z', 'gggggggg-8a51-4f6b-9d1e-2c7a8b9e0f11'),
  ])('refuses %s with 400', (bad) => {
    expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ status: 400 }));
  });
});
