import { randomUUID } from 'node:crypto';
import { ConfigService } from '@nestjs/config';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../src/config/app.config';
import { JobName } from '../src/jobs/job-names';
import type { MediaBatchPayload } from '../src/jobs/job-payloads';
import { RecordingCheckSweeper } from '../src/modules/media-ingest/recording/recording-check.sweeper';
import { RecordingHolds } from '../src/modules/media-ingest/recording/recording-holds';
import { RecordingReadyService } from '../src/modules/media-ingest/recording/recording-ready.service';
import { MediaSaverService } from '../src/modules/media-ingest/savers/media-saver.service';
import { RecordingCompletionsRepository } from '../src/modules/media-ingest/repositories/recording-completions.repository';
import { OAuthConnectionsService } from '../src/modules/oauth/oauth-connections.service';
import { EventSource, SessionsService, SessionStatus, StreamsService } from '../src/modules/sessions';
import { StreamStatus } from '../src/modules/sessions/entities/rtms-stream.entity';
import { RtmsStreamsRepository } from '../src/modules/sessions/repositories/rtms-streams.repository';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';

interface StoredEvent {
  id: string;
  type: string;
  session_id: string | null;
  sequence: string | null;
  data: Record<string, unknown>;
}

/**
 * The app-event producers against the real Postgres (and Redis): each fact announces
 * itself once, in its own transaction, with the per-session sequence. The hub here
 * consumes no queue, so every event stays in the outbox for these checks.
 */
describe('App-event producers (real Postgres)', () => {
  const ctx = useE2eContext({ hub: { api: true } });
  const get = <T>(cls: abstract new (...args: never[]) => T): T => ctx.hub.app.get(cls, { strict: false });
  const db = () => get(DataSource);

  async function eventsOf(sessionId: string, type?: string): Promise<StoredEvent[]> {
    return query<StoredEvent>(
      ctx.hub.app,
      `SELECT id, type, session_id, sequence::text, data FROM app_events WHERE session_id = $1 ${type ? 'AND type = $2' : ''} ORDER BY sequence`,
      type ? [sessionId, type] : [sessionId],
    );
  }

  async function newSession(): Promise<string> {
    const s = await get(SessionsService).create({ platform: 'zoom', meeting_id: String(Date.now() % 1e10) } as never);
    return s.id;
  }

  describe('sessions', () => {
    it('session.created carries the REST view; a transition emits exactly one session.status_changed with its fields and the next sequence', async () => {
      const sessions = get(SessionsService);
      const id = await newSession();
      const [created] = await eventsOf(id);
      expect(created).toMatchObject({ type: 'session.created', sequence: '1', data: { session_id: id, sequence: 1, session: { id, status: 'created' } } });

      const moved = await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'rtms_started' });
      expect(moved.changed).toBe(true);
      expect(await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'again' })).toMatchObject({ changed: false });
      await sessions.transition(id, SessionStatus.Stopped, { source: EventSource.Webhook, reason: 'rtms_stopped', stopReason: 6 });

      const changes = await eventsOf(id, 'session.status_changed');
      expect(changes.map((e) => e.data)).toEqual([
        { session_id: id, sequence: 2, status: 'streaming', previous_status: 'created', reason: 'rtms_started', stop_reason: null, stop_reason_name: null, failure_reason: null },
        { session_id: id, sequence: 3, status: 'stopped', previous_status: 'streaming', reason: 'rtms_stopped', stop_reason: 6, stop_reason_name: 'STOP_BC_MEETING_ENDED', failure_reason: null },
      ]);
      // Stopping queued the recording check, after the commit.
      const waiting = await ctx.hub.producer.queueFor(JobName.RecordingCheck).getJobs(['waiting']);
      expect(waiting.some((j) => j.name === JobName.RecordingCheck && (j.data as { sessionId: string }).sessionId === id)).toBe(true);
    });

    it('a failure carries its reason', async () => {
      const id = await newSession();
      await get(SessionsService).transition(id, SessionStatus.Failed, { source: EventSource.Worker, reason: 'handshake refused' });
      const [failed] = await eventsOf(id, 'session.status_changed');
      expect(failed.data).toMatchObject({ status: 'failed', previous_status: 'created', reason: 'handshake refused', failure_reason: 'handshake refused' });
    });

    it('a rolled-back transition announces nothing and uses no sequence number', async () => {
      const sessions = get(SessionsService);
      const id = await newSession();
      await expect(
        db().transaction(async (em) => {
          await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'rtms_started' }, em);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await eventsOf(id, 'session.status_changed')).toHaveLength(0);
      await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'rtms_started' });
      expect((await eventsOf(id)).map((e) => [e.type, e.sequence])).toEqual([
        ['session.created', '1'],
        ['session.status_changed', '2'],
      ]);
    });

    it('a repeated join does not announce twice; a leave, a repeated leave and a rejoin announce what changed', async () => {
      const streams = get(StreamsService);
      const id = await newSession();
      const at = new Date('2026-11-30T10:00:00Z');
      expect(await streams.participantJoined(id, '16778240', 'Ann', at, 'stream-a')).toBe(true);
      expect(await streams.participantJoined(id, '16778240', 'Ann', new Date(at.getTime() + 1000), 'stream-a')).toBe(false);
      expect(await streams.participantJoined(id, '16778240', null, new Date(at.getTime() + 2000), 'stream-a')).toBe(false);
      expect(await streams.participantLeft(id, '16778240', new Date(at.getTime() + 3000), 'stream-a')).toBe(true);
      expect(await streams.participantLeft(id, '16778240', new Date(at.getTime() + 4000), 'stream-a')).toBe(false);
      expect(await streams.participantJoined(id, '16778240', null, new Date(at.getTime() + 5000), 'stream-a')).toBe(true);
      const evs = (await eventsOf(id)).filter((e) => e.type.startsWith('participant.'));
      expect(evs.map((e) => [e.type, e.data.participant, e.data.at])).toEqual([
        ['participant.joined', { user_id: '16778240', user_name: 'Ann' }, '2026-11-30T10:00:00.000Z'],
        ['participant.left', { user_id: '16778240', user_name: 'Ann' }, '2026-11-30T10:00:03.000Z'],
        ['participant.joined', { user_id: '16778240', user_name: 'Ann' }, '2026-11-30T10:00:05.000Z'],
      ]);
      expect(evs.every((e) => e.data.rtms_stream_id === 'stream-a')).toBe(true);
    });

    it('a stream pause moves the stream and its session in one transaction; a failure between them leaves both as they were', async () => {
      const streams = get(StreamsService);
      const sessions = get(SessionsService);
      const id = await newSession();
      await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'rtms_started' });
      const rtmsStreamId = `pause-${randomUUID()}`;
      await get(RtmsStreamsRepository).insert({ rtmsStreamId, sessionId: id, serverUrls: 'wss://rtms.example.test', status: StreamStatus.Active });
      const statuses = async () => {
        const [row] = await query<{ stream: string; session: string }>(
          ctx.hub.app,
          'SELECT s.status AS stream, x.status AS session FROM rtms_streams s JOIN sessions x ON x.id = s.session_id WHERE s.rtms_stream_id = $1',
          [rtmsStreamId],
        );
        return row;
      };
      const moves = async () => (await eventsOf(id, 'session.status_changed')).map((e) => e.data.status);

      const spy = jest.spyOn(sessions, 'transition').mockImplementationOnce(async () => {
        throw new Error('Connection terminated unexpectedly');
      });
      try {
        await expect(streams.applyPause(rtmsStreamId, id, true, EventSource.Worker)).rejects.toThrow('Connection terminated');
      } finally {
        spy.mockRestore();
      }
      expect(await statuses()).toEqual({ stream: 'active', session: 'streaming' });

      await streams.applyPause(rtmsStreamId, id, true, EventSource.Worker);
      expect(await statuses()).toEqual({ stream: 'paused', session: 'paused' });
      await streams.applyPause(rtmsStreamId, id, false, EventSource.Worker);
      expect(await statuses()).toEqual({ stream: 'active', session: 'streaming' });
      expect(await moves()).toEqual(['streaming', 'paused', 'streaming']);

      // The session stopped meanwhile: the stream's own state still moves, the session's is refused and recorded.
      await sessions.transition(id, SessionStatus.Stopped, { source: EventSource.Webhook, reason: 'rtms_stopped' });
      await streams.applyPause(rtmsStreamId, id, true, EventSource.Worker);
      expect(await statuses()).toEqual({ stream: 'paused', session: 'stopped' });
      const refused = await query<{ payload: Record<string, unknown> }>(ctx.hub.app, `SELECT payload FROM session_events WHERE session_id = $1 AND event_type = 'session.transition_refused'`, [id]);
      expect(refused.map((r) => r.payload)).toEqual([{ from: 'stopped', to: 'paused', reason: 'rtms_paused' }]);
    });

    it('deleting a session announces media.deleted although its row is gone', async () => {
      const id = await newSession();
      await get(SessionsService).delete(id);
      expect(await query(ctx.hub.app, `SELECT 1 FROM sessions WHERE id = $1`, [id])).toHaveLength(0);
      const [deleted] = await eventsOf(id, 'media.deleted');
      expect(deleted.data).toMatchObject({ session_id: id, reason: 'session_deleted', rtms_stream_id: null, artifacts_deleted: 0 });
    });
  });

  describe('media-ingest', () => {
    const transcriptBatch = (sessionId: string, rtmsStreamId: string): MediaBatchPayload => ({
      streams: [
        {
          sessionId,
          rtmsStreamId,
          items: [1000, 2000].map((ts) => ({ msgType: 17, userId: 7, userName: 'Ann', timestamp: ts, data: `line ${ts}`, meta: { start_time: ts, end_time: ts + 500, language: 9 }, receivedAt: Date.now() })),
        },
      ],
    });

    it('one transcript.segment per new line; a re-saved batch announces nothing again', async () => {
      const id = await newSession();
      const stream = `tr-${randomUUID()}`;
      const savers = get(MediaSaverService);
      expect(await savers.saveTranscripts(transcriptBatch(id, stream))).toBe(2);
      expect(await savers.saveTranscripts(transcriptBatch(id, stream))).toBe(0);
      const lines = await eventsOf(id, 'transcript.segment');
      expect(lines.map((e) => e.data)).toEqual([
        { session_id: id, sequence: 2, rtms_stream_id: stream, user_id: '7', user_name: 'Ann', text: 'line 1000', start_ms: 1000, end_ms: 1500, language: 9 },
        { session_id: id, sequence: 3, rtms_stream_id: stream, user_id: '7', user_name: 'Ann', text: 'line 2000', start_ms: 2000, end_ms: 2500, language: 9 },
      ]);
    });

    it('purging a revoked stream announces media.deleted for its session', async () => {
      const id = await newSession();
      const stream = `rv-${randomUUID()}`;
      await query(ctx.hub.app, `INSERT INTO rtms_streams (rtms_stream_id, session_id, server_urls, status) VALUES ($1, $2, 'wss://x', 'stopped')`, [stream, id]);
      await get(MediaSaverService).saveTranscripts(transcriptBatch(id, stream));
      await get(MediaSaverService).purgeStream(stream, 1);
      await get(MediaSaverService).purgeStream(stream, 2); // the follow-up pass found nothing: no second event
      const deleted = await eventsOf(id, 'media.deleted');
      expect(deleted.map((e) => e.data)).toEqual([
        {
          session_id: id,
          sequence: 4,
          reason: 'stream_revoked',
          rtms_stream_id: stream,
          artifacts_deleted: 0,
          deletion_id: expect.any(String),
          erasure_id: null,
          categories: ['media', 'transcript', 'chat'],
          bytes_deleted: 0,
        },
      ]);
    });

    it('recording.ready waits for holds and open audio segments, then is announced exactly once, even by racing checks', async () => {
      const sessions = get(SessionsService);
      const recording = get(RecordingReadyService);
      const holds = get(RecordingHolds);
      const id = await newSession();
      await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'rtms_started' });
      expect(await recording.check(id, 'job')).toBe('not_ended');
      await holds.add([id], 'stream:s1');
      await sessions.transition(id, SessionStatus.Stopped, { source: EventSource.Worker, reason: 'rtms_stopped', stopReason: 6 });
      expect(await recording.check(id, 'job')).toBe('waiting');
      // The wait is bounded: a deadline job exists for the session.
      const deadline = await ctx.hub.producer.queueFor(JobName.RecordingCheck).getJob(`recording-deadline-${id}`);
      expect(await deadline?.isDelayed()).toBe(true);
      // The stream drained, but a segment is still open.
      expect(await holds.release([id], 'stream:s1')).toEqual([id]);
      // Many sessions in one call (a media batch's): only those left with no hold come back.
      const [a, b] = [await newSession(), await newSession()];
      await holds.add([a, b, a], 'batch:b1');
      await holds.add([b], 'batch:b2');
      expect(await holds.list(b)).toEqual(['batch:b1', 'batch:b2']);
      expect(await holds.release([a, b], 'batch:b1')).toEqual([a]);
      expect(await holds.release([b, b], 'batch:b2')).toEqual([b]);
      expect(await holds.release([], 'batch:b2')).toEqual([]);
      const [seg] = await query<{ id: string }>(
        ctx.hub.app,
        `INSERT INTO audio_segments (session_id, rtms_stream_id, user_id, segment_start_ms, segment_ms, sample_rate, channels, spool_host) VALUES ($1, 's1', '7', 0, 2000, 16000, 1, 'h') RETURNING id`,
        [id],
      );
      expect(await recording.check(id, 'inline')).toBe('waiting');
      await query(ctx.hub.app, `UPDATE audio_segments SET status = 'final' WHERE id = $1`, [seg.id]);

      const results = await Promise.all([recording.check(id, 'inline'), recording.check(id, 'inline'), recording.check(id, 'job')]);
      expect(results.filter((r) => r === 'announced')).toHaveLength(1);
      const ready = await eventsOf(id, 'recording.ready');
      expect(ready).toHaveLength(1);
      expect(ready[0].data).toEqual({
        session_id: id,
        sequence: 4,
        counts: { video_frames: 0, share_frames: 0, audio_segments: 0, transcript_segments: 0, chat_messages: 0 },
        complete: true,
        artifacts_url: `/api/v1/sessions/${id}/artifacts`,
        transcript_url: `/api/v1/sessions/${id}/transcript`,
      });
      // Announcing removed the deadline; checking again changes nothing.
      expect(await ctx.hub.producer.queueFor(JobName.RecordingCheck).getJob(`recording-deadline-${id}`)).toBeUndefined();
      expect(await recording.check(id, 'deadline')).toBe('already_announced');
      expect(await eventsOf(id, 'recording.ready')).toHaveLength(1);
    });

    it('the deadline announces what is there and records what was still pending', async () => {
      const sessions = get(SessionsService);
      const holds = get(RecordingHolds);
      const id = await newSession();
      await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'rtms_started' });
      await holds.add([id], 'batch:lost-in-a-crash');
      await sessions.transition(id, SessionStatus.Stopped, { source: EventSource.Worker, reason: 'rtms_stopped' });
      expect(await get(RecordingReadyService).check(id, 'deadline')).toBe('announced');
      const [row] = await query<{ forced: boolean; pending: Record<string, unknown> }>(ctx.hub.app, `SELECT forced, pending FROM recording_completions WHERE session_id = $1`, [id]);
      expect(row).toEqual({ forced: true, pending: { holds: ['batch:lost-in-a-crash'], open_audio_segments: 0 } });
      const ready = await eventsOf(id, 'recording.ready');
      expect(ready).toHaveLength(1);
      expect(ready[0].data).toMatchObject({ complete: false });
    });

    it('a session whose recording check was never queued gets its deadline check from the sweeper, then recording.ready', async () => {
      const sessions = get(SessionsService);
      const id = await newSession();
      await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'rtms_started' });
      // Redis refuses the check queued after the stop commits (or the process dies right after the commit).
      const enqueue = jest.spyOn(ctx.hub.producer, 'enqueue').mockImplementation(async (name) => {
        throw new Error(`Redis unreachable (${name})`);
      });
      try {
        await sessions.transition(id, SessionStatus.Stopped, { source: EventSource.Worker, reason: 'rtms_stopped', stopReason: 6 });
      } finally {
        enqueue.mockRestore();
      }
      const deadlineId = `recording-deadline-${id}`;
      const queue = ctx.hub.producer.queueFor(JobName.RecordingCheck);
      expect(await queue.getJob(deadlineId)).toBeUndefined();

      const sweeper = new RecordingCheckSweeper(sessions, get(RecordingCompletionsRepository), ctx.hub.producer, get(ConfigService) as unknown as ConfigService<AppConfig, true>);
      expect(await sweeper.sweep(0)).toBeGreaterThanOrEqual(1);
      const deadline = await queue.getJob(deadlineId);
      expect(deadline?.data).toEqual({ sessionId: id, deadline: true });
      expect(await deadline?.isWaiting()).toBe(true);
      // (No media-frames worker here: the check runs as that job would run it.)
      expect(await get(RecordingReadyService).check(id, 'deadline')).toBe('announced');
      expect(await eventsOf(id, 'recording.ready')).toHaveLength(1);
      // Announced: the next pass leaves the session alone.
      await deadline?.remove();
      await sweeper.sweep(0);
      expect(await queue.getJob(deadlineId)).toBeUndefined();
    });

    it('a session claimed for a composition that never announced gets its compose job again from the sweeper', async () => {
      const sessions = get(SessionsService);
      const id = await newSession();
      await sessions.transition(id, SessionStatus.Streaming, { source: EventSource.Worker, reason: 'rtms_started' });
      await sessions.transition(id, SessionStatus.Stopped, { source: EventSource.Worker, reason: 'rtms_stopped' });
      // Capture was complete and claimed for the compose job, which Redis then lost (or whose final failure was never recorded).
      await query(ctx.hub.app, `INSERT INTO recording_completions (session_id, counts, forced, pending, compose_state) VALUES ($1, '{}', false, NULL, 'pending')`, [id]);
      const composeId = `recording-compose-${id}-auto`;
      const compose = ctx.hub.producer.queueFor(JobName.RecordingCompose);
      expect(await compose.getJob(composeId)).toBeUndefined();

      const sweeper = new RecordingCheckSweeper(sessions, get(RecordingCompletionsRepository), ctx.hub.producer, get(ConfigService) as unknown as ConfigService<AppConfig, true>);
      expect(await sweeper.sweep(0)).toBeGreaterThanOrEqual(1);
      expect((await compose.getJob(composeId))?.data).toEqual({ sessionId: id, revision: 'auto' });
      // Its deadline check is not queued: the completion exists, the composition announces.
      expect(await ctx.hub.producer.queueFor(JobName.RecordingCheck).getJob(`recording-deadline-${id}`)).toBeUndefined();
      // While that job waits, the next pass leaves it alone.
      const before = await compose.getJob(composeId);
      await sweeper.sweep(0);
      expect((await compose.getJob(composeId))?.timestamp).toBe(before?.timestamp);
      await before?.remove();
    });

    it('a session that failed before it ever streamed has no recording.ready', async () => {
      const id = await newSession();
      await get(SessionsService).transition(id, SessionStatus.Failed, { source: EventSource.Worker, reason: 'no scope' });
      expect(await get(RecordingReadyService).check(id, 'job')).toBe('not_ended');
    });
  });

  describe('oauth', () => {
    async function newConnection(zoomUserId: string): Promise<string> {
      const c = await get(OAuthConnectionsService).storeAuthorized({
        user: { id: zoomUserId, accountId: 'acct-1', email: null, displayName: null } as never,
        tokens: { accessToken: 'a', refreshToken: 'r', expiresInSec: 3600, scope: 'meeting:read' } as never,
        ownerKeyFingerprint: null,
        appUserId: null,
      });
      return c.id;
    }
    const connectionEvents = (id: string) =>
      query<StoredEvent>(ctx.hub.app, `SELECT id, type, session_id, sequence::text, data FROM app_events WHERE data->>'connection_id' = $1 ORDER BY created_at`, [id]);

    it('reauthorization_required once per change of status; revoked when app_deauthorized removes it', async () => {
      const user = `zu-${randomUUID().slice(0, 8)}`;
      const id = await newConnection(user);
      const connections = get(OAuthConnectionsService);
      await connections.markReauthorizationRequired(id, 'invalid_grant');
      await connections.markReauthorizationRequired(id, 'invalid_grant');
      expect(await connections.deleteConnectionsForZoomUser(user)).toBe(1);
      const evs = await connectionEvents(id);
      expect(evs.map((e) => [e.type, e.session_id, e.sequence, e.data])).toEqual([
        ['oauth.connection.reauthorization_required', null, null, { connection_id: id, zoom_user_id: user, zoom_account_id: 'acct-1', reason: 'invalid_grant', session_id: null, sequence: null }],
        ['oauth.connection.revoked', null, null, { connection_id: id, zoom_user_id: user, zoom_account_id: 'acct-1', reason: 'app_deauthorized', session_id: null, sequence: null }],
      ]);
    });

    it('a forced disconnect announces revoked', async () => {
      const id = await newConnection(`zu-${randomUUID().slice(0, 8)}`);
      await get(OAuthConnectionsService).disconnect(id, { force: true });
      expect((await connectionEvents(id)).map((e) => [e.type, e.data.reason])).toEqual([['oauth.connection.revoked', 'disconnected']]);
    });
  });
});
