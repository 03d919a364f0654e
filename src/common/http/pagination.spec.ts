import { decodeCursor, encodeCursor } from './pagination';

describe('keyset pagination', () => {
  const id = '3f1c2f9e-8a51-4f6b-9d1e-2c7a8b9e0f11';

  it('round-trips a cursor', () => {
    const at = new Date('2026-11-24T10:00:00.123Z');
    expect(decodeCursor(encodeCursor(at, id))).toEqual({ createdAt: at.toISOString(), id });
    expect(decodeCursor(undefined)).toBeUndefined();
  });

  it.each(['garbage', Buffer.from('{"c":"x","i":"y"}').toString('base64url'), Buffer.from('[1]').toString('base64url')])('refuses %s with 400', (bad) => {
    expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ status: 400 }));
  });
});
