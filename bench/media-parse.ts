/**
 * bench:parse — the stream worker's per-message parse, in one process and one run: the
 * general path (JSON.parse of the frame, then toMediaItem) against the media socket's
 * fast path (media-frame-fast-path.ts) on the same frames, alternated in rounds so a
 * noisy machine affects both alike. Frames are shaped as the simulator and Zoom send
 * them: 20 ms L16 audio of five participants (640 bytes), and JPEG-sized video (9 KB).
 *
 * Environment: BENCH_PARSE_ROUNDS (6), BENCH_PARSE_MESSAGES (200000 per round and path).
 */
import { parseMediaFrameFast } from '../src/modules/media-ingest/protocol/media-frame-fast-path';
import { parseRtmsFrame, toMediaItem } from '../src/modules/media-ingest/protocol/rtms-message-parser';

const ROUNDS = Number(process.env.BENCH_PARSE_ROUNDS ?? 6);
const MESSAGES = Number(process.env.BENCH_PARSE_MESSAGES ?? 200_000);

function frames(msgType: number, payloadBytes: number): Buffer[] {
  const payload = Buffer.alloc(payloadBytes);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  return Array.from({ length: 1000 }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        msg_type: msgType,
        content: { user_id: 16778240 + (i % 5), user_name: `Participant ${i % 5}`, data: payload.toString('base64'), length: payloadBytes, timestamp: 1_764_000_000_000 + i * 20 },
      }),
    ),
  );
}

function general(frame: Buffer): boolean {
  const parsed = parseRtmsFrame(frame, 64 * 1024 * 1024);
  return parsed.ok && toMediaItem(parsed.message, 0).ok;
}

function fast(frame: Buffer): boolean {
  return parseMediaFrameFast(frame, 0) !== null;
}

/** µs of CPU per message (process CPU time: this is single-threaded work). */
function measure(input: Buffer[], parse: (f: Buffer) => boolean, messages: number): number {
  const before = process.cpuUsage();
  let ok = 0;
  for (let i = 0; i < messages; i++) if (parse(input[i % input.length])) ok++;
  const used = process.cpuUsage(before);
  if (ok !== messages) throw new Error(`${ok} of ${messages} frames parsed`);
  return (used.user + used.system) / messages;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  const report: Record<string, unknown> = {};
  for (const [name, input, messages] of [
    ['audio 640 B', frames(14, 640), MESSAGES],
    ['video 9 KB', frames(15, 9 * 1024), Math.max(1000, Math.floor(MESSAGES / 10))],
  ] as const) {
    measure(input, general, 20_000); // warm-up, both paths
    measure(input, fast, 20_000);
    const g: number[] = [];
    const f: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      g.push(measure(input, general, messages));
      f.push(measure(input, fast, messages));
    }
    const result = { general_us_per_msg: +median(g).toFixed(3), fast_us_per_msg: +median(f).toFixed(3), fast_vs_general: +(median(f) / median(g)).toFixed(2) };
    report[name] = result;
    console.log(`[bench:parse] ${name}: general ${result.general_us_per_msg} µs/msg, fast path ${result.fast_us_per_msg} µs/msg (${result.fast_vs_general}×), median of ${ROUNDS} alternated rounds`);
  }
  console.log(JSON.stringify(report, null, 2));
}

main();
