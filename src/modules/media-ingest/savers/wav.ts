/**
 * Canonical 44-byte RIFF/WAVE header for 16-bit little-endian PCM. The RIFF size counts the
 * pad byte a chunk of odd length is followed by (RIFF chunks are word-aligned); the data
 * chunk's own size does not.
 */
export function wavHeader(dataBytes: number, sampleRate: number, channels: number, bitsPerSample = 16): Buffer {
  const h = Buffer.alloc(44);
  const blockAlign = (channels * bitsPerSample) / 8;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes + (dataBytes & 1), 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16); // PCM fmt chunk size
  h.writeUInt16LE(1, 20); // audio format 1 = PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(bitsPerSample, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A WAV of the PCM; data of odd length gets its RIFF pad byte (assemblePackets never makes any). */
export function toWav(pcm: Buffer, sampleRate: number, channels: number): Buffer {
  const parts = [wavHeader(pcm.length, sampleRate, channels), pcm];
  if (pcm.length & 1) parts.push(Buffer.alloc(1));
  return Buffer.concat(parts);
}

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  dataBytes: number;
  durationMs: number;
}

/** Parses and checks a canonical PCM WAV (used by tests and the demo report). */
export function parseWav(buf: Buffer): WavInfo {
  if (buf.length < 44 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  if (buf.readUInt32LE(4) !== buf.length - 8) throw new Error('RIFF size does not match the file');
  if (buf.toString('ascii', 12, 16) !== 'fmt ' || buf.readUInt16LE(20) !== 1) throw new Error('not PCM');
  const channels = buf.readUInt16LE(22);
  const sampleRate = buf.readUInt32LE(24);
  const bitsPerSample = buf.readUInt16LE(34);
  if (buf.toString('ascii', 36, 40) !== 'data') throw new Error('no data chunk');
  const dataBytes = buf.readUInt32LE(40);
  if (dataBytes + (dataBytes & 1) !== buf.length - 44) throw new Error('data size does not match the file');
  if (buf.readUInt32LE(28) !== (sampleRate * channels * bitsPerSample) / 8) throw new Error('bad byte rate');
  return { sampleRate, channels, bitsPerSample, dataBytes, durationMs: (dataBytes / ((sampleRate * channels * bitsPerSample) / 8)) * 1000 };
}

/** Zoom sample_rate enum (0..3) or Hz → Hz. */
export function sampleRateHz(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isFinite(n)) return 16000;
  const byEnum: Record<number, number> = { 0: 8000, 1: 16000, 2: 32000, 3: 48000 };
  if (n in byEnum) return byEnum[n];
  return n >= 8000 && n <= 192000 ? Math.round(n) : 16000;
}

export interface Packet {
  ts: number;
  data: Buffer;
}

export interface Assembled {
  pcm: Buffer;
  firstTs: number;
  lastTs: number;
  packets: number;
  duplicates: number;
  /** Holes between packets larger than 1.5 packet durations (Zoom timestamps). */
  gaps: Array<{ at_ms: number; missing_ms: number }>;
  /** Packets whose length was not a whole number of samples (× channels): cut down to one. */
  trimmed: number;
}

/**
 * Orders packets by Zoom timestamp, drops re-sent ones (same timestamp, e.g. replayed
 * after a reconnect) and concatenates the PCM, so a segment is gapless wherever the
 * timestamps are contiguous; holes are reported, not filled (muted users send nothing).
 *
 * A packet whose length is not a whole number of sample frames (2 bytes × channels; the
 * parser keeps a packet whose `length` disagrees with its data) loses its trailing partial
 * frame and is counted: appended whole, its odd byte would shift every later sample of the
 * segment by one byte — the rest of the WAV byte-swapped into noise.
 */
export function assemblePackets(packets: Packet[], sampleRate: number, channels: number): Assembled {
  const sorted = [...packets].sort((a, b) => a.ts - b.ts);
  const out: Buffer[] = [];
  const gaps: Assembled['gaps'] = [];
  const frame = 2 * channels;
  let duplicates = 0;
  let trimmed = 0;
  let prevTs: number | null = null;
  let prevEnd: number | null = null;
  for (const p of sorted) {
    if (prevTs !== null && p.ts === prevTs) {
      duplicates++;
      continue;
    }
    let data = p.data;
    if (data.length % frame !== 0) {
      data = data.subarray(0, data.length - (data.length % frame));
      trimmed++;
    }
    const durMs = (data.length / (frame * sampleRate)) * 1000;
    if (prevEnd !== null && p.ts - prevEnd > durMs * 0.5 + 1) gaps.push({ at_ms: prevEnd, missing_ms: Math.round(p.ts - prevEnd) });
    out.push(data);
    prevTs = p.ts;
    prevEnd = p.ts + durMs;
  }
  const kept = sorted.length - duplicates;
  return { pcm: Buffer.concat(out), firstTs: sorted[0]?.ts ?? 0, lastTs: prevTs ?? 0, packets: kept, duplicates, gaps, trimmed };
}
