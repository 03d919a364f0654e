import { randomUUID } from 'node:crypto';
import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Counter, Gauge } from 'prom-client';
import { RtmsEventType, RtmsSessionState, RtmsStreamState } from '../../../zoom/rtms-enums';
import { MetricsService } from '../../../common/metrics/metrics.service';
import type { AppConfig } from '../../../config/app.config';
import { isDatabaseUnavailable, isUniqueViolation } from '../../../database/database-unavailable';
import { EventSource, ReceivedCounts, RecordEventInput, SessionEventsService, SessionsService, StreamsService } from '../../sessions';
import type { RtmsMessage } from '../protocol/rtms-message-parser';
import { errorMessage } from '../../../common/errors/error-message';
import { Observation, ObservationBuffer } from './observation-buffer';

export interface StreamRef {
  sessionId: string;
  rtmsStreamId: string;
}

export type StreamRuntimeUpdate = Parameters<StreamsService['updateRuntime']>[1];

const EVENT_NAMES: Record<number, string> = {
  [RtmsEventType.FirstPacketTimestamp]: 'rtms.first_packet_timestamp',
  [RtmsEventType.ActiveSpeakerChange]: 'rtms.active_speaker_changed',
  [RtmsEventType.ParticipantJoin]: 'rtms.participant_joined',
  [RtmsEventType.ParticipantLeave]: 'rtms.participant_left',
  [RtmsEventType.SharingStart]: 'rtms.sharing_started',
  [RtmsEventType.SharingStop]: 'rtms.sharing_stopped',
  [RtmsEventType.MediaConnectionInterrupted]: 'rtms.media_connection_interrupted',
  [RtmsEventType.ParticipantVideoOn]: 'rtms.participant_video_on',
  [RtmsEventType.ParticipantVideoOff]: 'rtms.participant_video_off',
  [RtmsEventType.ChatGroupCreate]: 'rtms.chat_group_created',
  [RtmsEventType.ChatGroupDelete]: 'rtms.chat_group_deleted',
  [RtmsEventType.ChatGroupMembersAdd]: 'rtms.chat_group_members_added',
  [RtmsEventType.ChatGroupMembersDelete]: 'rtms.chat_group_members_deleted',
  [RtmsEventType.ChatGroupMemberStatusUpdate]: 'rtms.chat_group_member_status_updated',
};

/** The events a zero-retention session still records: about the stream, never about a person. */
const ZERO_RETENTION_EVENTS: ReadonlySet<number> = new Set([RtmsEventType.FirstPacketTimestamp, RtmsEventType.MediaConnectionInterrupted]);

/** Retry backoff while Postgres does not answer. */
const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 2000;
/** A stream's end (stop, failure, hand-over) waits this long for its observations to be written before its job ends; the rest keeps being retried by the process. */
export const STREAM_END_FLUSH_MS = 10_000;
/** Process shutdown waits this long for what is still waiting (within SHUTDOWN_TIMEOUT_MS); the rest is lost, counted and logged. */
const SHUTDOWN_FLUSH_MS = 3000;
/** A full buffer logs its first drop and then one in this many. */
const DROP_LOG_EVERY = 100;

function userIdOf(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && v.length > 0 && v.length <= 128) return v;
  return null;
}

function timeOf(v: unknown): Date {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? new Date(v) : new Date();
}

/**
 * Records what the signaling socket reports: events (msg 6) as session_events,
 * joins/leaves in participants, stream/session state (msg 8/9) as stream + session
 * status, and the stream's own runtime row (status, keep-alive time, reconnects, end).
 *
 * Nothing here waits on Postgres or breaks the stream: every write goes through the
 * process's ObservationBuffer, which writes each stream's observations in arrival order
 * and, while Postgres is unreachable, holds them (bounded: RTMS_OBSERVATION_BUFFER_MAX)
 * and retries until it answers, so a pause seen during an outage still pauses the
 * session, after the joins seen before it. Keep-alive times and other runtime fields
 * coalesce (only the latest value is written). On a process exit what is still waiting
 * after a short flush is lost, counted and logged; on SIGKILL it is lost without a word
 * (docs/operations.md).
 */
@Injectable()
export class StreamEventsRecorder implements BeforeApplicationShutdown {
  private readonly logger = new Logger(StreamEventsRecorder.name);
  private readonly buffer: ObservationBuffer;
  private readonly droppedTotal: Counter<'reason'>;
  private readonly retries: Counter;
  /** Streams whose head write is failing; the outage is logged when the first fails and when the last recovers. */
  private readonly failing = new Set<string>();
  private outageSince = 0;
  private droppedInOutage = 0;
  private dropsLogged = 0;

  constructor(
    private readonly sessions: SessionsService,
    private readonly events: SessionEventsService,
    private readonly streams: StreamsService,
    metrics: MetricsService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.droppedTotal = metrics.counter({
      name: 'rtms_hub_stream_observations_dropped_total',
      help: 'Stream observations that will not be written: buffer_full (Postgres unreachable too long), rejected (the database refused the write), shutdown (still waiting at exit)',
      labelNames: ['reason'],
    });
    this.retries = metrics.counter({ name: 'rtms_hub_stream_observation_retries_total', help: 'Stream observation writes retried because Postgres did not answer' });
    this.buffer = new ObservationBuffer(
      { maxWaiting: config.get('rtms', { infer: true }).ingest.observationBufferMax, retryBaseMs: RETRY_BASE_MS, retryMaxMs: RETRY_MAX_MS },
      {
        isUnavailable: isDatabaseUnavailable,
        rejected: (streamId, kind, err) => {
          this.droppedTotal.inc({ reason: 'rejected' });
          this.logger.error(`Stream ${streamId}: could not record ${kind}: ${errorMessage(err)}`);
          // A refusal is an answer: Postgres is reachable for this stream again. Without this a
          // stream whose retried write was then refused stayed "failing" for good, and the
          // outage logs (start, end) stayed silent from then on.
          this.answered(streamId, this.buffer.waiting);
        },
        dropped: (streamId, kind, waiting) => {
          this.droppedTotal.inc({ reason: 'buffer_full' });
          this.droppedInOutage++;
          if (this.dropsLogged++ % DROP_LOG_EVERY === 0) {
            this.logger.warn(`Stream ${streamId}: observation buffer full (${waiting} waiting for Postgres); dropped the oldest (${kind}); ${this.dropsLogged} dropped so far`);
          }
        },
        retrying: (streamId, err, _delayMs, waiting) => {
          this.retries.inc();
          if (this.failing.size === 0) {
            this.outageSince = Date.now();
            this.droppedInOutage = 0;
            this.logger.warn(`Postgres unreachable: holding stream observations in order and retrying (${waiting} waiting): ${errorMessage(err)}`);
          }
          this.failing.add(streamId);
        },
        recovered: (streamId, waiting) => this.answered(streamId, waiting),
      },
    );
    const buffer = this.buffer;
    metrics.gauge({
      name: 'rtms_hub_stream_observations_waiting',
      help: 'Stream observations (events, participants, status) waiting in this process to be written to Postgres',
      collect(this: Gauge) {
        this.set(buffer.waiting);
      },
    });
  }

  /** Postgres answered a write of `streamId` after failing it: the outage ends when no stream is failing. */
  private answered(streamId: string, waiting: number): void {
    if (!this.failing.delete(streamId) || this.failing.size > 0) return;
    const dropped = this.droppedInOutage ? `; ${this.droppedInOutage} dropped (buffer full)` : '';
    this.logger.log(`Postgres answers again after ${((Date.now() - this.outageSince) / 1000).toFixed(1)} s: writing the held stream observations (${waiting} waiting${dropped})`);
  }

  /**
   * msg 6. `storesPeople` false (zero retention): no participants rows and no timeline
   * row for any event that names or identifies someone — only the stream's own events
   * (ZERO_RETENTION_EVENTS); the stream counts the rest (received_counts).
   */
  async event(ref: StreamRef, msg: RtmsMessage, storesPeople = true): Promise<void> {
    const ev = (typeof msg.event === 'object' && msg.event !== null ? msg.event : {}) as Record<string, unknown>;
    const type = typeof ev.event_type === 'number' ? ev.event_type : -1;
    if (!storesPeople && !ZERO_RETENTION_EVENTS.has(type)) return;
    const steps: Observation['steps'] = [];
    if (type === RtmsEventType.ParticipantJoin || type === RtmsEventType.ParticipantLeave) {
      const at = timeOf(ev.timestamp);
      const list = Array.isArray(ev.participants) ? (ev.participants as Array<Record<string, unknown>>) : [];
      for (const p of list) {
        const id = userIdOf(p?.user_id);
        if (!id) continue;
        // Each an upsert: written again after an unclear failure, it changes nothing more.
        if (type === RtmsEventType.ParticipantJoin) {
          const name = typeof p.user_name === 'string' ? p.user_name.slice(0, 256) : null;
          steps.push(() => this.streams.participantJoined(ref.sessionId, id, name, at, ref.rtmsStreamId));
        } else {
          steps.push(() => this.streams.participantLeft(ref.sessionId, id, at, ref.rtmsStreamId));
        }
      }
    }
    steps.push(this.recordStep(ref, { source: EventSource.Worker, eventType: EVENT_NAMES[type] ?? `rtms.event_${type}`, rtmsStreamId: ref.rtmsStreamId, payload: ev }));
    this.buffer.push(ref.rtmsStreamId, { kind: EVENT_NAMES[type] ?? 'rtms.event', priority: type in EVENT_NAMES ? 'high' : 'low', steps });
  }

  /** msg 8: paused/resumed move stream and session; everything is recorded. */
  async streamState(ref: StreamRef, msg: RtmsMessage): Promise<void> {
    const state = typeof msg.state === 'number' ? msg.state : -1;
    const steps: Observation['steps'] = [
      this.recordStep(ref, {
        source: EventSource.Worker,
        eventType: 'rtms.stream_state',
        rtmsStreamId: ref.rtmsStreamId,
        payload: { state, state_name: RtmsStreamState[state] ?? null, reason: msg.reason ?? null, timestamp: msg.timestamp ?? null },
      }),
    ];
    if (state === RtmsStreamState.Paused || state === RtmsStreamState.Resumed) {
      steps.push(() => this.streams.applyPause(ref.rtmsStreamId, ref.sessionId, state === RtmsStreamState.Paused, EventSource.Worker));
    }
    this.buffer.push(ref.rtmsStreamId, { kind: 'rtms.stream_state', priority: 'high', steps });
  }

  /** msg 9: recorded (the stream's own state drives status). */
  async sessionState(ref: StreamRef, msg: RtmsMessage): Promise<void> {
    const state = typeof msg.state === 'number' ? msg.state : -1;
    const step = this.recordStep(ref, {
      source: EventSource.Worker,
      eventType: 'rtms.session_state',
      rtmsStreamId: ref.rtmsStreamId,
      payload: {
        state,
        state_name: RtmsSessionState[state] ?? null,
        stop_reason: msg.stop_reason ?? msg.reason ?? null,
        rtms_session_id: msg.rtms_session_id ?? null,
        timestamp: msg.timestamp ?? null,
      },
    });
    this.buffer.push(ref.rtmsStreamId, { kind: 'rtms.session_state', priority: 'low', steps: [step] });
  }

  /** Anything else worth keeping (handshake results, errors, reconnects, close responses). */
  async note(ref: StreamRef, eventType: string, payload: Record<string, unknown>): Promise<void> {
    const step = this.recordStep(ref, { source: EventSource.Worker, eventType, rtmsStreamId: ref.rtmsStreamId, payload });
    this.buffer.push(ref.rtmsStreamId, { kind: eventType, priority: 'low', steps: [step] });
  }

  /**
   * The stream row's runtime fields; only their latest values matter, so waiting updates
   * merge. A status stays in order with the observations around it; a keep-alive time alone
   * merges into any waiting update. `writer` is this process's worker id: the row takes the
   * update only while it names this worker as owner, or no one, unless it claims the stream.
   */
  runtime(ref: StreamRef, fields: StreamRuntimeUpdate, writer: string): void {
    const keepAliveOnly = Object.keys(fields).every((k) => k === 'lastKeepaliveAt');
    this.buffer.runtime(ref.rtmsStreamId, fields, !keepAliveOnly, (f) => this.streams.updateRuntime(ref.rtmsStreamId, f as StreamRuntimeUpdate, writer), keepAliveOnly ? 'low' : 'high');
  }

  /** Adds what the stream received since its last report to the session's received_counts (stream-counters.ts). */
  counts(ref: StreamRef, delta: ReceivedCounts): void {
    this.buffer.push(ref.rtmsStreamId, { kind: 'session.received_counts', priority: 'low', steps: [() => this.sessions.addReceivedCounts(ref.sessionId, delta)] });
  }

  /** reconnect_counts[cause] += 1. */
  reconnect(ref: StreamRef, cause: string): void {
    this.buffer.push(ref.rtmsStreamId, { kind: 'stream.reconnect_count', priority: 'low', steps: [() => this.streams.countReconnect(ref.rtmsStreamId, cause)] });
  }

  /** The stream ended (stopped, or failed for good): stream and session rows, in order after everything it observed. */
  ended(ref: StreamRef, end: { kind: 'stopped'; stopReason: number | null } | { kind: 'failed'; reason: string }): void {
    const step = end.kind === 'stopped' ? () => this.streams.markStopped(ref.rtmsStreamId, end.stopReason, EventSource.Worker) : () => this.streams.markFailed(ref.rtmsStreamId, end.reason, EventSource.Worker);
    this.buffer.push(ref.rtmsStreamId, { kind: `stream.${end.kind}`, priority: 'high', steps: [step] });
  }

  /** Resolves true once the stream's observations so far are written, false after `timeoutMs` (they keep being retried). */
  settled(rtmsStreamId: string, timeoutMs = STREAM_END_FLUSH_MS): Promise<boolean> {
    return this.buffer.settled(rtmsStreamId, timeoutMs);
  }

  /** Observations waiting for Postgres in this process. */
  get waiting(): number {
    return this.buffer.waiting;
  }

  /** After the streams were handed back (RunningStreams, on module destroy), before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.buffer.waiting === 0) return;
    const left = await this.buffer.flush(SHUTDOWN_FLUSH_MS);
    const lost = this.buffer.close();
    if (left === 0) return;
    this.droppedTotal.inc({ reason: 'shutdown' }, left);
    this.logger.error(`Shutting down with ${left} stream observation(s) not written (Postgres unreachable): ${[...lost].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  }

  /** Inserts one session_events row; written again after an unclear failure (the commit may have landed), its dedupe key keeps it single. */
  private recordStep(ref: StreamRef, input: RecordEventInput): () => Promise<unknown> {
    const dedupeKey = `${input.source}:${randomUUID()}`;
    return async () => {
      try {
        await this.events.recordEvent(ref.sessionId, { ...input, dedupeKey });
      } catch (err) {
        if (!isUniqueViolation(err, 'UQ_session_events_dedupe_key')) throw err;
      }
    };
  }
}
