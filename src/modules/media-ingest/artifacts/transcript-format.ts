export interface TranscriptLine {
  userId: string;
  userName: string | null;
  text: string;
  startMs: number;
  endMs: number;
  language: number | null;
}

function clock(ms: number, withMillis: boolean): string {
  const t = Math.max(0, Math.round(ms));
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const s = Math.floor((t % 60_000) / 1000);
  const base = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return withMillis ? `${base}.${String(t % 1000).padStart(3, '0')}` : base;
}

/**
 * One line: WebVTT ends a line at CR, LF or CRLF (a lone CR too, and two of them end the
 * cue, so the rest of the text would be read as a new block, e.g. a NOTE), and the text
 * export promises one line per entry; no other character ends a WebVTT line.
 */
const oneLine = (s: string) => s.replace(/\r\n|\r|\n/g, ' ');
const vttEscape = (s: string) => oneLine(s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/-->/g, '--&gt;'));
const speaker = (l: TranscriptLine) => l.userName ?? `user ${l.userId}`;

/** WebVTT, cue times relative to the first line's start; speakers as voice spans. */
export function toVtt(lines: TranscriptLine[]): string {
  const t0 = lines[0]?.startMs ?? 0;
  const cues = lines.map((l, i) => {
    const start = l.startMs - t0;
    const end = Math.max(l.endMs - t0, start + 1);
    return `${i + 1}\n${clock(start, true)} --> ${clock(end, true)}\n<v ${vttEscape(speaker(l))}>${vttEscape(l.text)}`;
  });
  return `WEBVTT\n\n${cues.join('\n\n')}${cues.length ? '\n' : ''}`;
}

/** Plain text: `[hh:mm:ss] Name: text`, one line each. */
export function toTxt(lines: TranscriptLine[]): string {
  const t0 = lines[0]?.startMs ?? 0;
  return lines.map((l) => `[${clock(l.startMs - t0, false)}] ${oneLine(speaker(l))}: ${oneLine(l.text)}\n`).join('');
}
