/**
 * Signaling requests after the handshake (rtms-protocol.md §2–§4): client ready (msg 7), event
 * subscription (5), session and stream state (10, 19), stream close (21), video subscription (28).
 */
import { int, isRecord } from './http-util';
import { AUDIO_BUFFER_MS, MsgType, SessionState, Status, StopReason, StreamState, SUBSCRIBABLE_EVENTS, statusReason } from './protocol';
import type { RtmsRecorder } from './rtms-records';
import type { Conn, SendFn, Stream } from './rtms-stream';

/** Subscribing replays the current state, and a close request ends the stream: both live elsewhere. */
export interface SignalingHost {
  send: SendFn;
  snapshot(s: Stream, eventType: number): void;
  terminate(s: Stream, reason: number): void;
}

export class RtmsSignaling {
  constructor(
    private readonly recorder: RtmsRecorder,
    private readonly host: SignalingHost,
  ) {}

  handle(c: Conn, type: number, msg: Record<string, unknown>): void {
    const s = c.stream;
    if (!s || s.signaling !== c) return;
    const ts = Date.now();
    switch (type) {
      case MsgType.CLIENT_READY_ACK: {
        const valid = msg.rtms_stream_id === s.streamId;
        this.recorder.record(s.streamId).readyAcks.push({ at: ts, valid });
        if (!valid) return;
        const now = s.meeting.now();
        for (const m of s.media.values())
          if (m.handshaken && !m.active && !m.closing) {
            m.active = true;
            for (const k of m.kinds) m.cursors[k] = k === 'audio' ? audioCursor(s, now) : { next: now };
          }
        return;
      }
      case MsgType.EVENT_SUBSCRIPTION: {
        const events = msg.events;
        if (!Array.isArray(events)) {
          this.recorder.record(s.streamId).messagesReceived.invalid++;
          return;
        }
        for (const e of events) {
          if (!isRecord(e)) continue;
          const et = int(e.event_type);
          if (et === undefined || !SUBSCRIBABLE_EVENTS.has(et)) continue;
          if (e.subscribe === false) s.subscriptions.delete(et);
          else if (!s.subscriptions.has(et)) {
            s.subscriptions.add(et);
            this.host.snapshot(s, et);
          }
        }
        this.recorder.record(s.streamId).subscriptions = [...s.subscriptions].sort((a, b) => a - b);
        return;
      }
      case MsgType.SESSION_STATE_REQ: {
        const ok = msg.rtms_session_id === s.sessionId;
        const state = s.paused ? SessionState.PAUSED : SessionState.STARTED;
        this.host.send(c, { msg_type: MsgType.SESSION_STATE_RESP, rtms_session_id: s.sessionId, state, timestamp: ts, ...(ok ? {} : { status_code: Status.INVALID_RTMS_SESSION_ID, reason: statusReason(Status.INVALID_RTMS_SESSION_ID) }) });
        return;
      }
      case MsgType.STREAM_STATE_REQ: {
        const state = s.paused ? StreamState.PAUSED : StreamState.ACTIVE;
        this.host.send(c, { msg_type: MsgType.STREAM_STATE_RESP, state, rtms_stream_id: s.streamId, timestamp: ts });
        return;
      }
      case MsgType.STREAM_CLOSE_REQ: {
        const ok = msg.rtms_stream_id === s.streamId;
        this.host.send(c, { msg_type: MsgType.STREAM_CLOSE_RESP, rtms_stream_id: s.streamId, status_code: ok ? 0 : Status.INVALID_RTMS_STREAM_ID, reason: ok ? '' : statusReason(Status.INVALID_RTMS_STREAM_ID), timestamp: ts });
        if (ok) this.host.terminate(s, StopReason.RECEIVER_REQUEST_CLOSE);
        return;
      }
      case MsgType.VIDEO_SUBSCRIPTION_REQ: {
        const userId = int(msg.user_id);
        const videoConn = [...s.media.values()].find((m) => m.kinds.includes('video'));
        let status: number = Status.OK;
        if (!videoConn || videoConn.params.video?.data_opt !== 4) status = Status.INVALID_MEDIA_VIDEO_DATA_OPT;
        else if (userId === undefined) status = Status.INVALID_PAYLOAD;
        else if (msg.subscribe === false) {
          if (s.videoSubscription === userId) s.videoSubscription = undefined;
        } else if (s.videoSubscription !== undefined && s.videoSubscription !== userId) status = Status.DUPLICATE_VIDEO_SUBSCRIPTION;
        else s.videoSubscription = userId;
        this.host.send(c, { msg_type: MsgType.VIDEO_SUBSCRIPTION_RESP, user_id: msg.user_id, status_code: status, reason: status ? statusReason(status) : '', timestamp: ts });
        return;
      }
      default:
        return;
    }
  }
}

/**
 * Where a media socket's audio starts when CLIENT_READY_ACK turns it on. The stream's first
 * audio socket gets the audio buffered since the webhook (rtms-protocol.md §2: `buffer_data`
 * defaults to true, "the server buffers up to 60 s of audio from webhook time"; false drops
 * only that initial buffer), sent as a burst the pump spreads over its ticks. Every later one
 * (a media or signaling reconnect, or `buffer_data: false`) starts at the ack: the protocol
 * reference describes no buffering for reconnects. Video, deskshare, transcript and chat are
 * not buffered (§3: "video is not").
 */
function audioCursor(s: Stream, now: number): { next: number; burst?: boolean } {
  if (!s.audioBufferPending) return { next: now };
  s.audioBufferPending = false;
  if (!s.bufferData) return { next: now };
  const from = Math.max(s.startedAt, now - AUDIO_BUFFER_MS);
  return from < now ? { next: from, burst: true } : { next: now };
}
