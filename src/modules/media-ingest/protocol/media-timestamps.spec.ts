import { parseMediaFrameFast } from './media-frame-fast-path';
import { isMediaTimestamp, MEDIA_TS_LIMIT_MS, parseRtmsFrame, RtmsMessage, toMediaItem } from './rtms-message-parser';

/**
 * Media timestamps are range-checked where messages are read: one value Postgres or a Date
 * cannot hold (1e19, a negative one) used to pass as "a finite number" and then fail every
 * statement it was part of — a flush of the whole process's audio, an artifact batch.
 */
/** 2^47 ms, the bound (MEDIA_TS_LIMIT_MS), written out so the cases read without the module. */
const LIMIT = 140_737_488_355_328;
const pcm = Buffer.alloc(640, 7).toString('base64');
const msg = (msgType: number, timestamp: unknown, data = pcm): RtmsMessage => ({ msg_type: msgType, content: { user_id: 16778240, user_name: 'Ann', data, timestamp } });

describe('media timestamps', () => {
  const bad: unknown[] = [1e19, -1, -1e15, LIMIT, 2 ** 53, '99999999999999999999', '-5', 8.64e15 + 1];
  const good: unknown[] = [0, 1_764_000_000_123, 1_764_000_000_123.9, '1764000000123', LIMIT - 1];

  it.each([14, 15, 16, 17, 18])('msg %i: a timestamp outside [0, 2^47) is refused as bad_timestamp, one inside is kept', (msgType) => {
    const data = msgType >= 17 ? 'hello' : pcm;
    for (const ts of bad) expect(toMediaItem(msg(msgType, ts, data), 1)).toEqual({ ok: false, reason: 'bad_timestamp' });
    for (const ts of good) {
      const res = toMediaItem(msg(msgType, ts, data), 1);
      expect(res.ok).toBe(true);
      if (res.ok) expect(res.item.timestamp).toBe(Math.trunc(Number(ts)));
    }
  });

  it('chat in the newer shape (JSON in content.data) is checked the same way, and keeps its sender', () => {
    const data = JSON.stringify({ data: 'hi', sender: { user_id: 5, user_name: 'Bo' }, message_id: 'm1' });
    expect(toMediaItem(msg(18, 1e19, data), 1)).toEqual({ ok: false, reason: 'bad_timestamp' });
    const ok = toMediaItem(msg(18, 1_764_000_000_000, data), 1);
    expect(ok.ok && ok.item).toMatchObject({ userId: 5, userName: 'Bo', timestamp: 1_764_000_000_000, data: 'hi' });
  });

  it('the fast path takes none of them: it leaves them to the general path, which refuses them', () => {
    for (const ts of bad.filter((t) => typeof t === 'number')) {
      const frame = Buffer.from(JSON.stringify(msg(14, ts)));
      expect(parseMediaFrameFast(frame, 1)).toBeNull();
      const parsed = parseRtmsFrame(frame, 1e7);
      expect(parsed.ok && toMediaItem(parsed.message, 1)).toEqual({ ok: false, reason: 'bad_timestamp' });
    }
    // (The fast path's own integer scan, and its fallback for exponents and fractions.)
    for (const text of ['140737488355328', '1e19', '-15', '-0.5e3']) {
      expect(parseMediaFrameFast(Buffer.from(`{"msg_type":14,"content":{"user_id":1,"data":"${pcm}","timestamp":${text}}}`), 1)).toBeNull();
    }
    expect(parseMediaFrameFast(Buffer.from(JSON.stringify(msg(14, LIMIT - 1))), 1)?.item.timestamp).toBe(LIMIT - 1);
  });

  it('the bound fits a Date and exact integer arithmetic', () => {
    expect(MEDIA_TS_LIMIT_MS).toBe(LIMIT);
    expect(isMediaTimestamp(MEDIA_TS_LIMIT_MS - 1)).toBe(true);
    expect(new Date(MEDIA_TS_LIMIT_MS).toISOString()).toBe('6429-10-17T02:45:55.328Z');
    expect(Number.isSafeInteger(MEDIA_TS_LIMIT_MS + 3_600_000 * 1000)).toBe(true);
  });
});
