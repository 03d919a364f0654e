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
});
