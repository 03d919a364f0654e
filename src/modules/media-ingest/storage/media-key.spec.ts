import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { buildMediaKey, MAX_SEGMENT_BYTES, sanitizeSegment, userFolder } from './media-key';
import { LocalMediaStorage } from './local-media-storage';
import { assertSafeKey } from './media-storage';

const SESSION = '2b0c1f0e-8d1c-4f5e-9a5b-0c8e6d9f1a2b';

describe('media keys', () => {
  it('builds the documented layout', () => {
    expect(buildMediaKey({ sessionId: SESSION, kind: 'video_frame', userName: 'Ann Lee', userId: 16778240, name: 1750690000000, ext: 'jpg' })).toBe(
      `${SESSION}/video/Ann_Lee_16778240/1750690000000.jpg`,
    );
    expect(buildMediaKey({ sessionId: SESSION, kind: 'audio_segment', userId: 0, name: 1, ext: 'wav' })).toBe(`${SESSION}/audio/mixed_0/1.wav`);
  });

  it.each([
    ['../../x', 'x'],
    ['a/b', 'a_b'],
    ['a\0b', 'a_b'],
    ['..', 'unknown'],
    ['.hidden', 'hidden'],
    ['C:\\win\\sys', 'C_win_sys'],
    ['Zoë 山田', 'Zoë_山田'],
    ['', 'unknown'],
  ])('sanitises %j to one safe segment', (raw, expected) => {
    expect(sanitizeSegment(raw)).toBe(expected);
  });

  it('keeps hostile names inside their folder', () => {
    for (const name of ['../../x', 'a/b', 'nul\0name', 'x'.repeat(300), '/etc/passwd', '..\\..\\win', '%2e%2e%2f']) {
      const key = buildMediaKey({ sessionId: SESSION, kind: 'video_frame', userName: name, userId: '../7', name: '../1', ext: '../jpg' });
      const parts = key.split('/');
      expect(parts).toHaveLength(4);
      expect(parts[0]).toBe(SESSION);
      expect(parts[1]).toBe('video');
      expect(parts.every((p) => p !== '..' && p !== '.' && !p.includes('\0') && p.length <= 200)).toBe(true);
      expect(() => assertSafeKey(key)).not.toThrow();
    }
    expect(Buffer.byteLength(userFolder('x'.repeat(300), 5))).toBeLessThanOrEqual(MAX_SEGMENT_BYTES + 2);
  });

  describe('byte caps (a file name is at most 255 bytes, not characters)', () => {
    const wide = '𝐀'.repeat(80); // 80 code points, 320 UTF-8 bytes (was ENAMETOOLONG)
    const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

    it('caps every segment in UTF-8 bytes, never splitting a character or a surrogate pair', () => {
      for (const name of [wide, 'é'.repeat(300), '山'.repeat(300), `a${'😀'.repeat(100)}`, 'x'.repeat(300)]) {
        const seg = sanitizeSegment(name);
        expect(bytes(seg)).toBeLessThanOrEqual(MAX_SEGMENT_BYTES);
        expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(seg)).toBe(false); // no lone surrogate
        expect(Buffer.from(seg, 'utf8').toString('utf8')).toBe(seg);
        const folder = userFolder(name, '9'.repeat(200));
        expect(bytes(folder)).toBeLessThanOrEqual(200);
      }
      const key = buildMediaKey({ sessionId: SESSION, kind: 'chat', userName: wide, userId: 1, name: `1750690000000_${wide}`, ext: 'j'.repeat(300) });
      for (const part of key.split('/')) expect(bytes(part) + '.0123456789ab.tmp'.length).toBeLessThanOrEqual(255);
    });

    it('keeps names that differ only after the cut apart, and short names unchanged', () => {
      expect(userFolder(`${wide}a`, 1)).not.toBe(userFolder(`${wide}b`, 1));
      expect(sanitizeSegment(`${'x'.repeat(200)}1`)).not.toBe(sanitizeSegment(`${'x'.repeat(200)}2`));
      expect(sanitizeSegment('Zoë 山田 𝐀')).toBe('Zoë_山田_𝐀');
    });

    it('the local driver stores a frame of a participant with an 80-letter astral name', async () => {
      const root = await fs.mkdtemp(path.join(os.tmpdir(), 'media-key-'));
      try {
        const storage = new LocalMediaStorage(root);
        const key = buildMediaKey({ sessionId: SESSION, kind: 'video_frame', userName: wide, userId: 16778240, name: 1750690000000, ext: 'jpg' });
        await expect(storage.put(key, Buffer.from('jpeg'), 'image/jpeg')).resolves.toMatchObject({ bytes: 4 });
      } finally {
        await fs.rm(root, { recursive: true, force: true });
      }
    });
  });

  it('refuses unsafe keys in the drivers', () => {
    for (const key of ['../x', 'a/../../x', '/abs', 'a//b', 'a\0b', '', 'a\\b']) expect(() => assertSafeKey(key)).toThrow();
  });

  it('the local driver writes only under its root, atomically, with Range reads and prefix delete', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'media-key-'));
    const storage = new LocalMediaStorage(root);
    const key = buildMediaKey({ sessionId: SESSION, kind: 'chat', userName: '../../../../tmp/evil', userId: 1, name: 5, ext: 'json' });
    const put = await storage.put(key, Buffer.from('0123456789'), 'application/json');
    expect(put.bytes).toBe(10);
    expect(storage.locate(key).startsWith(root + path.sep)).toBe(true);
    const got = await storage.get(key, { start: 2, end: 5 });
    const chunks: Buffer[] = [];
    for await (const c of got.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('2345');
    expect(got.size).toBe(10);
    await storage.put(key, Buffer.from('0123456789'), 'application/json');
    expect((await fs.readdir(path.dirname(storage.locate(key))))).toEqual(['5.json']);
    expect(await storage.deletePrefix(`${SESSION}/`)).toEqual({ objects: 1, bytes: 10 });
    expect(await storage.stat(key)).toBeNull();
    await expect(storage.deletePrefix('../')).rejects.toThrow();
    await fs.rm(root, { recursive: true, force: true });
  });
});
