import { MeetingState } from './meeting';

function meeting(): MeetingState {
  return new MeetingState(1, 'u==', 't', '', 'h', [], 'meeting', 1_700_000_000_000, undefined, 1, [
    {
      userId: 1,
      name: 'Ann',
      speaks: [
        { atMs: 0, text: 'a1', durationMs: 7000 },
        { atMs: 8000, text: 'a2' },
      ],
      chat: [{ atMs: 4000, text: 'ann chat' }],
    },
    {
      userId: 2,
      name: 'Bob',
      joinAtMs: 1000,
      speaks: [
        { atMs: 500, text: 'before joining', durationMs: 500 },
        { atMs: 1500, text: 'b1', durationMs: 4000 },
        { atMs: 3000, text: 'b2', durationMs: 4000 },
      ],
      chat: [
        { atMs: 900, text: 'before joining' },
        { atMs: 4000, text: 'bob chat' },
      ],
    },
  ]);
}

describe('MeetingState script index', () => {
  it('gives the transcript lines that ended in (from, to], in the order they ended, ties in join order', () => {
    const m = meeting();
    expect(m.speechEndedIn(0, 10_000).map((x) => x.line.text)).toEqual(['b1', 'a1', 'b2', 'a2']);
    expect(m.speechEndedIn(5500, 7000).map((x) => [x.line.text, x.end])).toEqual([
      ['a1', 7000],
      ['b2', 7000],
    ]);
    expect(m.speechEndedIn(7000, 9999).map((x) => x.line.text)).toEqual([]);
    expect(m.speechEndedIn(-1, 1000).map((x) => x.line.text)).toEqual([]); // Bob's first line: he had not joined
  });

  it('gives chat lines in (from, to] in time order, ties in join order, only from participants present', () => {
    const m = meeting();
    expect(m.chatIn(0, 5000).map((x) => x.line.text)).toEqual(['ann chat', 'bob chat']);
    expect(m.chatIn(4000, 5000)).toEqual([]);
  });

  it('includes the lines of a participant added later', () => {
    const m = meeting();
    expect(m.speechEndedIn(0, 10_000)).toHaveLength(4);
    m.add({ userId: 3, name: 'Cy', speaks: [{ atMs: 100, text: 'c1', durationMs: 100 }], chat: [{ atMs: 50, text: 'cy chat' }] });
    expect(m.speechEndedIn(0, 10_000).map((x) => x.line.text)).toEqual(['c1', 'b1', 'a1', 'b2', 'a2']);
    expect(m.chatIn(0, 5000).map((x) => x.line.text)).toEqual(['cy chat', 'ann chat', 'bob chat']);
  });

  it('follows a script rewritten in place: lines replaced or added through find()', () => {
    const m = meeting();
    expect(m.speechEndedIn(0, 10_000)).toHaveLength(4);
    Object.assign(m.find(1)!, { speaks: [{ atMs: 9000, text: 'a3', durationMs: 500 }], chat: [{ atMs: 9100, text: 'late chat' }] });
    expect(m.speechEndedIn(0, 10_000).map((x) => x.line.text)).toEqual(['b1', 'b2', 'a3']);
    expect(m.chatIn(0, 10_000).map((x) => x.line.text)).toEqual(['bob chat', 'late chat']);
    m.find(2)!.speaks!.push({ atMs: 9500, text: 'b3', durationMs: 100 });
    expect(m.speechEndedIn(9000, 10_000).map((x) => x.line.text)).toEqual(['a3', 'b3']);
  });
});
