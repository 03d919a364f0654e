import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { TestApp } from './test-app';
import { query } from './db';
import { buildWav } from '../../src/modules/media-compose/compose/wav-runs';

/**
 * Seeds what capture leaves behind for the compose job, straight into Postgres and the
 * local storage root: an ended-to-be session, H.264 segment rows/objects (the capture
 * contract: kind video_segment, meta.first_ts + frame_ts) and WAV audio segment rows/objects.
 */
export interface SeededVideo {
  userId: string;
  userName: string;
  firstTs: number;
  /** Offsets (ms) of each access unit from firstTs. */
  frameTs: number[];
  bytes: Buffer;
}

export interface SeededAudio {
  userId: string;
  firstTs: number;
  /** PCM s16le mono at `sampleRate`. */
  pcm: Buffer;
  sampleRate: number;
  gaps?: Array<{ at_ms: number; missing_ms: number }>;
}

export async function insertStreamingSession(hub: TestApp, startedAt: Date, capturePolicy: Record<string, unknown> = {}, owner: string | null = null): Promise<string> {
  const [row] = await query<{ id: string }>(
    hub.app,
    `INSERT INTO sessions (platform, product, meeting_uuid, status, capture_policy, metadata, version, started_at, retention_from, owner)
     VALUES ('zoom', 'meeting', $1, 'streaming', $2, '{}', 1, $3, NULL, $4) RETURNING id`,
    [`uuid-${randomUUID()}`, JSON.stringify(capturePolicy), startedAt, owner],
  );
  return row.id;
}

async function putObject(root: string, key: string, body: Buffer): Promise<void> {
  const file = path.join(root, ...key.split('/'));
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, body);
}

async function insertArtifact(hub: TestApp, a: { sessionId: string; kind: string; userId: string; userName: string | null; key: string; contentType: string; body: Buffer; capturedAt: number; durationMs: number; meta: Record<string, unknown> }): Promise<void> {
  await query(
    hub.app,
    `INSERT INTO media_artifacts (session_id, rtms_stream_id, kind, user_id, user_name, storage_key, content_type, bytes, sha256, captured_at, duration_ms, meta)
     VALUES ($1, 'stream-1', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [a.sessionId, a.kind, a.userId, a.userName, a.key, a.contentType, a.body.length, createHash('sha256').update(a.body).digest('hex'), new Date(a.capturedAt), a.durationMs, JSON.stringify(a.meta)],
  );
}

export async function seedVideo(hub: TestApp, root: string, sessionId: string, v: SeededVideo): Promise<string> {
  const key = `${sessionId}/video/${v.userName}_${v.userId}/${v.firstTs}.h264`;
  await putObject(root, key, v.bytes);
  const last = v.frameTs[v.frameTs.length - 1];
  const step = v.frameTs.length > 1 ? v.frameTs[1] - v.frameTs[0] : 40;
  await insertArtifact(hub, {
    sessionId,
    kind: 'video_segment',
    userId: v.userId,
    userName: v.userName,
    key,
    contentType: 'video/h264',
    body: v.bytes,
    capturedAt: v.firstTs,
    durationMs: last + step,
    meta: { codec: 'h264', frames: v.frameTs.length, first_ts: v.firstTs, last_ts: v.firstTs + last, frame_ts: v.frameTs },
  });
  return key;
}

export async function seedAudio(hub: TestApp, root: string, sessionId: string, a: SeededAudio): Promise<string> {
  const key = `${sessionId}/audio/${a.userId === '0' ? 'mixed' : 'user'}_${a.userId}/${a.firstTs}.wav`;
  const wav = buildWav(a.pcm, { sampleRate: a.sampleRate, channels: 1, bitsPerSample: 16 });
  await putObject(root, key, wav);
  const durationMs = Math.round((a.pcm.length / 2 / a.sampleRate) * 1000);
  await insertArtifact(hub, {
    sessionId,
    kind: 'audio_segment',
    userId: a.userId,
    userName: null,
    key,
    contentType: 'audio/wav',
    body: wav,
    capturedAt: a.firstTs,
    durationMs,
    meta: { sample_rate: a.sampleRate, channels: 1, bits_per_sample: 16, first_ts: a.firstTs, gaps: a.gaps ?? [] },
  });
  return key;
}
