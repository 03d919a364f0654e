import { Job } from 'bullmq';
import { JOB_QUEUE, JobName } from './job-names';
import { QueueName } from './queue-names';

/**
 * The payload of every job. Payloads carry ids and small values, never entities, so
 * a job stays valid when the rows it names change.
 */
export interface ZoomEventProcessPayload {
  /** session_events.id of the stored, verified event. */
  eventId: string;
}

export interface RtmsControlPayload {
  sessionId: string;
  /** rtms_control_requests.id that records this request and its outcome. */
  requestId: string;
}

export interface StreamRunPayload {
  rtmsStreamId: string;
  sessionId: string;
  /** Set while the job's starts fail back to back on Postgres or Redis (media-ingest stream/start-retry.ts). */
  startFailures?: { count: number; since: number };
}

/** The media messages of one stream in a batch, kept as received (base64 data). */
export interface StreamMediaItems {
  sessionId: string;
  rtmsStreamId: string;
  items: MediaItem[];
}

/**
 * One kind of media (frames, transcript lines or chat) from all the streams of one
 * worker process, collected over one flush interval: one job per interval, not one per
 * stream.
 */
export interface MediaBatchPayload {
  streams: StreamMediaItems[];
  /**
   * Names the batch while it is in flight: its sessions' recording holds
   * (media-ingest/recording) carry it until the saver is done with it.
   */
  batchId?: string;
}

export interface MediaItem {
  /** RTMS msg_type: 14 audio, 15 video, 16 share, 17 transcript, 18 chat. */
  msgType: number;
  userId: number;
  userName?: string;
  /** Zoom server timestamp (ms). */
  timestamp: number;
  data: string;
  /** Extra fields per type (transcript start/end/language, chat ids). */
  meta?: Record<string, string | number | boolean | null>;
  /** When the worker received it (ms since epoch), for latency metrics. */
  receivedAt: number;
  /**
   * Set on an H.264 segment (capture_policy video/deskshare format h264): `data` is the
   * segment's Annex-B bytes (SPS + PPS + IDR first, whole access units in order) and
   * `timestamp` its first frame's Zoom timestamp. Saved as one video_segment / share_segment.
   */
  segment?: VideoSegmentInfo;
}

/** What an H.264 segment item carries besides its bytes (media-ingest/video/h264-segmenter.ts). */
export interface VideoSegmentInfo {
  /** Access units in the segment. */
  frames: number;
  firstTs: number;
  lastTs: number;
  /** Each access unit's Zoom timestamp minus firstTs, in order. */
  frameTs: number[];
  /** lastTs − firstTs + one frame interval (1000 / the negotiated fps). */
  durationMs: number;
  /** Picture size from the segment's SPS, when it could be read. */
  width?: number;
  height?: number;
}

/** Delete a stream's stored media (stop reason 8, STREAM_REVOKED). */
export interface MediaPurgePayload {
  rtmsStreamId: string;
  /** 1 = at once; 2 = a follow-up sweep for saves that were in flight during the first. */
  pass?: number;
}

/**
 * Is the session's recording complete (recording.ready)? Queued when a session stops or
 * fails; `deadline`: the bounded wait is over, announce what is there.
 */
export interface RecordingCheckPayload {
  sessionId: string;
  deadline?: boolean;
}

export interface RoomJobPayload {
  dispatchId: string;
  /** room_dispatches.round the job belongs to (a retry starts a new round); stale rounds are skipped. */
  round?: number;
}

/** Dispatch the rooms a session's capture policy names (once per session). */
export interface RoomsAutoDispatchPayload {
  sessionId: string;
}

/**
 * The session's meeting ended (an RTMS stop with STOP_BC_MEETING_ENDED): its rooms are out
 * of it, so their dispatches end and no delayed leave of theirs may reach Zoom later.
 */
export interface RoomsMeetingEndedPayload {
  sessionId: string;
}

export interface TokenRefreshPayload {
  connectionId: string;
  /** The token version the refresh was scheduled for (names the job: one per version). */
  tokenVersion?: number;
  /** How often Zoom's token endpoint answered this job 429 (each waits its Retry-After without using an attempt). */
  throttled?: number;
}

/** A Zoom user removed the app (app_deauthorized): their OAuth connections must go. */
export interface OAuthDeauthorizePayload {
  /** session_events.id of the app_deauthorized event that asked (names the job). */
  eventId: string;
  zoomUserId: string;
  /** Narrows the deletion to this account when the event named one. */
  zoomAccountId?: string;
  /**
   * Zoom's deauthorization_time (ISO 8601): only connections authorized at or before it
   * go, so a retried event does not remove a later consent. Absent (jobs queued by an
   * older release, an event without it): every connection of the user goes.
   */
  deauthorizedAt?: string;
}

/** Create the webhook messages of one app event (one per subscribed endpoint). */
export interface AppEventFanoutPayload {
  eventId: string;
}

/** One attempt to deliver a webhook message. */
export interface WebhookDeliverPayload {
  messageId: string;
  /** Which attempt this job makes (1 = the first): names the job, and a stale job finds the message moved on. */
  attempt: number;
  /** What started it (a scheduled attempt, a resend, a recovery). */
  trigger?: 'scheduled' | 'resend' | 'recover';
}

/** One pass of the retention sweep (repeatable; docs/retention.md). */
export interface RetentionSweepPayload {
  /** What scheduled it: the repeatable schedule, or a run asked for (tests, operators). */
  trigger?: 'schedule' | 'manual';
}

/** Carry out (or continue) one erasure request. */
export interface ErasureRunPayload {
  erasureId: string;
}

/**
 * Build a session's recording.mp4 (media-compose). `auto`: queued by the capture-complete
 * check, it announces recording.ready when done; a number: an operator's re-compose
 * (POST /sessions/:id/recording), which replaces the recording and announces nothing.
 */
export interface RecordingComposePayload {
  sessionId: string;
  revision: 'auto' | number;
}

export interface JobPayloads {
  [JobName.ZoomEventProcess]: ZoomEventProcessPayload;
  [JobName.RtmsStart]: RtmsControlPayload;
  [JobName.RtmsStop]: RtmsControlPayload;
  [JobName.RtmsPause]: RtmsControlPayload;
  [JobName.RtmsResume]: RtmsControlPayload;
  [JobName.StreamRun]: StreamRunPayload;
  [JobName.FrameSave]: MediaBatchPayload;
  [JobName.TranscriptSave]: MediaBatchPayload;
  [JobName.ChatSave]: MediaBatchPayload;
  [JobName.MediaPurge]: MediaPurgePayload;
  [JobName.RecordingCheck]: RecordingCheckPayload;
  [JobName.RoomJoin]: RoomJobPayload;
  [JobName.RoomLeave]: RoomJobPayload;
  [JobName.RoomsAutoDispatch]: RoomsAutoDispatchPayload;
  [JobName.RoomsMeetingEnded]: RoomsMeetingEndedPayload;
  [JobName.TokenRefresh]: TokenRefreshPayload;
  [JobName.OAuthDeauthorize]: OAuthDeauthorizePayload;
  [JobName.AppEventFanout]: AppEventFanoutPayload;
  [JobName.WebhookDeliver]: WebhookDeliverPayload;
  [JobName.RetentionSweep]: RetentionSweepPayload;
  [JobName.ErasureRun]: ErasureRunPayload;
  [JobName.RecordingCompose]: RecordingComposePayload;
}

export type JobOf<N extends JobName> = JobPayloads[N];

/** The names of the jobs a queue carries, as a type (from JOB_QUEUE). */
export type JobNameOf<Q extends QueueName> = { [N in JobName]: (typeof JOB_QUEUE)[N] extends Q ? N : never }[JobName];

/**
 * Any job of queue Q, as a union discriminated by `name`: a processor's
 * `switch (job.name)` narrows `job.data`, and its `default: return unknownJob(job.name)`
 * does not compile while a job of the queue has no case.
 */
export type QueueJob<Q extends QueueName> = { [N in JobNameOf<Q>]: Job<JobOf<N>, unknown, N> }[JobNameOf<Q>];
