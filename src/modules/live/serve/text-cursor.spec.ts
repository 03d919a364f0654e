import { LiveTextEntry } from '../live-protocol';
import { Subscription } from './subscription';
import { TextCursor, TextSink } from './text-cursor';
import { LogEntry } from './text-log';
import { LOG_START, replayLog, ReplaySource } from './text-replay';

const S1 = '11111111-1111-4111-8111-111111111111';

function item(id: string, media: LiveTextEntry['media'] = 'transcript', userId = 1): LogEntry {
  return { id, entry: { media, session_id: S1, ts: 1, data: { user_id: userId } }, bytes: 100 };
}

class FakeSink implements TextSink {
  closed = false;
  sent: string[] = [];
  pending = 0;
  constructor(private readonly budget = 10_000) {}
  sendEntry(_sub: string, e: LogEntry): boolean {
    this.sent.push(e.id);
    return true;
  }
  reservePending(bytes: number): boolean {
    if (this.pending + bytes > this.budget) return false;
    this.pending += bytes;
    return true;
  }
  releasePending(bytes: number): void {
    this.pending -= bytes;
  }
}

/** A log in memory; `onRead` runs after each page is read (to inject live entries mid-replay). */
class FakeLog implements ReplaySource {
  reads = 0;
  constructor(
    public entries: LogEntry[],
    private readonly onRead: (n: number) => void = () => undefined,
  ) {}
  async range(_s: string, afterId: string, count: number) {
    const after = afterId === LOG_START ? -1 : Number(afterId.split('-')[0]);
    const page = this.entries.filter((e) => Number(e.id.split('-')[0]) > after).slice(0, count);
    this.onRead(++this.reads);
    return { entries: page, read: page.length, lastId: page.length ? page[page.length - 1].id : null };
  }
}

const sub = (over: Partial<ConstructorParameters<typeof Subscription>[0]> = {}) =>
  new Subscription({ id: 's', sessions: [S1], textMedia: ['transcript'], binaryMedia: [], participants: null, resumeFrom: null, ...over });

describe('TextCursor', () => {
  it('holds live entries until released, then goes live, each entry once and in order', () => {
    const sink = new FakeSink();
    const cursor = new TextCursor(sub(), S1, sink, null);
    cursor.onLive(item('1-0'));
    expect(sink.sent).toEqual([]);
    cursor.finishReplay();
    cursor.onLive(item('1-0'));
    cursor.onLive(item('2-0'));
    expect(sink.sent).toEqual(['1-0', '2-0']);
    expect(sink.pending).toBe(0);
  });

  it('skips entries up to the resume point and filtered entries', () => {
    const sink = new FakeSink();
    const cursor = new TextCursor(sub({ participants: [1] }), S1, sink, '5-0');
    cursor.finishReplay();
    cursor.onLive(item('5-0'));
    cursor.onLive(item('6-0', 'chat'));
    cursor.onLive(item('7-0', 'transcript', 2));
    cursor.onLive(item('8-0'));
    expect(sink.sent).toEqual(['8-0']);
  });

  it('drops held entries past the client budget and counts an overflow', () => {
    const sink = new FakeSink(250);
    const cursor = new TextCursor(sub(), S1, sink, null);
    cursor.onLive(item('1-0'));
    cursor.onLive(item('2-0'));
    cursor.onLive(item('3-0'));
    expect(cursor.overflows).toBe(1);
    expect(sink.pending).toBe(0);
  });

  it('frees its held memory when cancelled', () => {
    const sink = new FakeSink();
    const cursor = new TextCursor(sub(), S1, sink, null);
    cursor.onLive(item('1-0'));
    cursor.cancel();
    expect(sink.pending).toBe(0);
    cursor.finishReplay();
    expect(sink.sent).toEqual([]);
  });
});

describe('replayLog', () => {
  const whenWritable = () => true as const;

  it('replays after the resume point, then releases held entries newer than the replay', async () => {
    const sink = new FakeSink();
    const cursor = new TextCursor(sub(), S1, sink, '1-0');
    const log = new FakeLog([item('1-0'), item('2-0'), item('3-0')], (n) => {
      // While the first page is in flight, 3-0 (already in the log) and 4-0 arrive live.
      if (n === 1) {
        cursor.onLive(item('3-0'));
        cursor.onLive(item('4-0'));
      }
    });
    await replayLog(cursor, log, { pageSize: 2, whenWritable });
    expect(sink.sent).toEqual(['2-0', '3-0', '4-0']);
    expect(cursor.isHolding).toBe(false);
  });

  it('pages through a long log', async () => {
    const sink = new FakeSink();
    const cursor = new TextCursor(sub(), S1, sink, LOG_START);
    const log = new FakeLog(Array.from({ length: 7 }, (_, i) => item(`${i + 1}-0`)));
    await replayLog(cursor, log, { pageSize: 3, whenWritable });
    expect(sink.sent).toEqual(['1-0', '2-0', '3-0', '4-0', '5-0', '6-0', '7-0']);
    expect(log.reads).toBe(3);
  });

  it('reads on after held entries overflowed, so nothing is lost', async () => {
    const sink = new FakeSink(150);
    const cursor = new TextCursor(sub(), S1, sink, LOG_START);
    const log = new FakeLog([item('1-0')], (n) => {
      if (n === 1) {
        // Two live entries arrive (and land in the log): the second overflows the budget.
        log.entries.push(item('2-0'), item('3-0'));
        cursor.onLive(item('2-0'));
        cursor.onLive(item('3-0'));
      }
    });
    await replayLog(cursor, log, { pageSize: 10, whenWritable });
    expect(sink.sent).toEqual(['1-0', '2-0', '3-0']);
    expect(log.reads).toBe(2);
  });

  it('waits for the client buffer and stops when the client is gone', async () => {
    const sink = new FakeSink();
    const cursor = new TextCursor(sub(), S1, sink, LOG_START);
    const log = new FakeLog([item('1-0'), item('2-0')]);
    let calls = 0;
    await replayLog(cursor, log, {
      pageSize: 10,
      whenWritable: () => {
        calls++;
        if (calls === 2) {
          sink.closed = true;
          return Promise.resolve(false);
        }
        return true;
      },
    });
    expect(sink.sent).toEqual(['1-0']);
  });
});
