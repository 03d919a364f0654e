import { toTxt, toVtt } from './transcript-format';

const lines = [
  { userId: '1', userName: 'Ann', text: 'hello <b>', startMs: 1_000_000, endMs: 1_002_000, language: 9 },
  { userId: '2', userName: null, text: 'a --> b', startMs: 1_065_500, endMs: 1_066_000, language: 9 },
];

describe('transcript formats', () => {
  it('renders WebVTT with escaped cues', () => {
    expect(toVtt(lines)).toBe('WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\n<v Ann>hello &lt;b&gt;\n\n2\n00:01:05.500 --> 00:01:06.000\n<v user 2>a --&gt; b\n');
    expect(toVtt([])).toBe('WEBVTT\n\n');
  });
  it('renders text', () => {
    expect(toTxt(lines)).toBe('[00:00:00] Ann: hello <b>\n[00:01:05] user 2: a --> b\n');
  });
  it('keeps every cue and entry on its own lines: a CR, LF or CRLF in a name or a text becomes a space', () => {
    const broken = [
      { userId: '1', userName: 'Ann', text: 'first part\r\rNOTE this text is dropped', startMs: 1000, endMs: 2000, language: 9 },
      { userId: '2', userName: 'Bob\r[00:00:05] Carol', text: 'a\r\nb\nc', startMs: 3000, endMs: 4000, language: 9 },
    ];
    const vtt = toVtt(broken);
    const txt = toTxt(broken);
    expect(vtt).not.toContain('\r');
    expect(txt).not.toContain('\r');
    expect(vtt).toBe('WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.000\n<v Ann>first part  NOTE this text is dropped\n\n2\n00:00:02.000 --> 00:00:03.000\n<v Bob [00:00:05] Carol>a b c\n');
    expect(txt).toBe('[00:00:00] Ann: first part  NOTE this text is dropped\n[00:00:02] Bob [00:00:05] Carol: a b c\n');
  });
});
