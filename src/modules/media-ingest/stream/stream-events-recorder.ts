import { Injectable, Logger } from '@nestjs/common';
import { RtmsEventType, RtmsSessionState, RtmsStreamState } from '../../../zoom/rtms-enums';
import { EventSource, SessionEventsService, SessionsService, SessionStatus, StreamsService, StreamStatus } from '../../sessions';
import type { RtmsMessage } from '../protocol/rtms-message-parser';
import { errorMessage } from '../../../common/errors/error-message';

export interface StreamRef {
  sessionId: string;
  rtmsStreamId: string;
}

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
 * status. Database trouble is logged and never breaks the stream.
 */
@Injectable()
export class StreamEventsRecorder {
  private readonly logger = new Logger(StreamEventsRecorder.name);

  constructor(
    private readonly sessions: SessionsService,
    private readonly events: SessionEventsService,
    private readonly streams: StreamsService,
  ) {}

  async event(ref: StreamRef, msg: RtmsMessage): Promise<void> {
    const ev = (typeof msg.event === 'object' && msg.event !== null ? msg.event : {}) as Record<string, unknown>;
    const type = typeof ev.event_type === 'number' ? ev.event_type : -1;
    await this.safe(ref, async () => {
      if (type === RtmsEventType.ParticipantJoin || type === RtmsEventType.ParticipantLeave) {
        const at = timeOf(ev.timestamp);
        const list = Array.isArray(ev.participants) ? (ev.participants as Array<Record<string, unknown>>) : [];
        for (const p of list) {
          const id = userIdOf(p?.user_id);
          if (!id) continue;
          if (type === RtmsEventType.ParticipantJoin) {
            await this.streams.participantJoined(ref.sessionId, id, typeof p.user_name === 'string' ? p.user_name.slice(0, 256) : null, at, ref.rtmsStreamId);
          } else {
            await this.streams.participantLeft(ref.sessionId, id, at, ref.rtmsStreamId);
          }
        }
      }
      await this.events.recordEvent(ref.sessionId, {
        source: EventSource.Worker,
        eventType: EVENT_NAMES[type] ?? `rtms.event_${type}`,
        rtmsStreamId: ref.rtmsStreamId,
        payload: ev,
      });
    });
  }

  /** msg 8: paused/resumed move stream and session; everything is recorded. */
  async streamState(ref: StreamRef, msg: RtmsMessage): Promise<void> {
    const state = typeof msg.state === 'number' ? msg.state : -1;
    await this.safe(ref, async () => {
      await this.events.recordEvent(ref.sessionId, {
        source: EventSource.Worker,
        eventType: 'rtms.stream_state',
        rtmsStreamId: ref.rtmsStreamId,
        payload: { state, state_name: RtmsStreamState[state] ?? null, reason: msg.reason ?? null, timestamp: msg.timestamp ?? null },
      });
      if (state === RtmsStreamState.Paused) {
        await this.streams.setStatus(ref.rtmsStreamId, StreamStatus.Paused);
        await this.moveSession(ref, SessionStatus.Paused, 'rtms_paused');
      } else if (state === RtmsStreamState.Resumed) {
        await this.streams.setStatus(ref.rtmsStreamId, StreamStatus.Active);
        await this.moveSession(ref, SessionStatus.Streaming, 'rtms_resumed');
      }
    });
  }

  /** msg 9: recorded (the stream's own state drives status). */
  async sessionState(ref: StreamRef, msg: RtmsMessage): Promise<void> {
    const state = typeof msg.state === 'number' ? msg.state : -1;
    await this.safe(ref, () =>
      this.events.recordEvent(ref.sessionId, {
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
      }),
    );
  }

  /** Anything else worth keeping (handshake results, errors, reconnects, close responses). */
  async note(ref: StreamRef, eventType: string, payload: Record<string, unknown>): Promise<void> {
    await this.safe(ref, () => this.events.recordEvent(ref.sessionId, { source: EventSource.Worker, eventType, rtmsStreamId: ref.rtmsStreamId, payload }));
  }

  private async moveSession(ref: StreamRef, to: SessionStatus, reason: string): Promise<void> {
    try {
      await this.sessions.transition(ref.sessionId, to, { source: EventSource.Worker, reason });
    } catch (err) {
      this.logger.warn(`Session ${ref.sessionId}: ${reason} not applied: ${errorMessage(err)}`);
    }
  }

  private async safe(ref: StreamRef, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.logger.error(`Stream ${ref.rtmsStreamId}: could not record: ${errorMessage(err)}`);
    }
  }
}
