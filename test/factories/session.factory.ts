import request from 'supertest';
import type { TestApp } from '../utils/test-app';
import { API_KEY } from '../utils/test-app';
import { query } from '../utils/db';

export interface NewSession {
  meetingId: string | number;
  capturePolicy?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/** Creates a session the way an app does (POST /api/v1/sessions, with `apiKey`) and returns the 201 body. */
export async function createSession(hub: TestApp, session: NewSession, apiKey: string = API_KEY): Promise<{ id: string } & Record<string, unknown>> {
  const body: Record<string, unknown> = { platform: 'zoom', meeting_id: String(session.meetingId) };
  if (session.capturePolicy !== undefined) body.capture_policy = session.capturePolicy;
  if (session.metadata !== undefined) body.metadata = session.metadata;
  const res = await request(hub.app.getHttpServer()).post('/api/v1/sessions').set('x-api-key', apiKey).send(body).expect(201);
  return res.body as { id: string } & Record<string, unknown>;
}

export interface SessionRowInput {
  meetingUuid: string;
  status?: string;
  product?: string;
  /** Stored as is (not resolved as the API would). */
  capturePolicy?: Record<string, unknown>;
}

/**
 * Inserts a session row directly (no API): for states the API cannot produce, e.g. a
 * session bound to a meeting uuid the simulator does not know.
 */
export async function insertSession(hub: TestApp, row: SessionRowInput): Promise<string> {
  const [session] = await query<{ id: string }>(
    hub.app,
    `INSERT INTO sessions (platform, product, meeting_uuid, status, capture_policy, metadata, version) VALUES ('zoom', $1, $2, $3, $4::jsonb, '{}', 1) RETURNING id`,
    [row.product ?? 'meeting', row.meetingUuid, row.status ?? 'streaming', JSON.stringify(row.capturePolicy ?? {})],
  );
  return session.id;
}
