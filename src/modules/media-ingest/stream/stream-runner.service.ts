import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Job, UnrecoverableError } from 'bullmq';
import { AppConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import type { StreamRunPayload } from '../../../jobs/job-payloads';
import { JobProducer } from '../../../jobs/job-producer.service';
import { LiveMediaPublisher, LiveTextLog } from '../../live';
import type { CapturePolicy } from '../../sessions';
import { enforceZeroRetention, EventSource, RtmsStreamEntity, SessionEntity, SessionsService, storedVideoRule, StreamsService, StreamStatus, ZoomProduct } from '../../sessions';
import { STOP_REASON_STREAM_REVOKED } from '../../../zoom/rtms-enums';
import { AudioSpoolService } from '../audio/audio-spool.service';
import type { StreamEnd } from '../audio/audio-spool.ports';
import { IngestMetrics } from '../ingest-metrics';
import { MediaBatchService } from '../pipeline/media-batch.service';
import { MEDIA_ITEM_FILTER_FACTORY, MediaItemFilter, MediaItemFilterFactory } from '../pipeline/media-filter';
import { AudioSink, StreamMediaPipeline } from '../pipeline/stream-media-pipeline';
import { mediaParamsFor, requestedMediaTypes, rtmsSignature, signingCredentials } from '../protocol/handshake';
import { sampleRateHz } from '../savers/wav';
import { errorMessage } from '../../../common/errors/error-message';
import { RecordingHolds } from '../recording/recording-holds';
import { RecordingReadyService } from '../recording/recording-ready.service';
import { RunningStreams } from './running-streams';
import { StreamEventsRecorder } from './stream-events-recorder';
import { monotonicFromWallClock, STREAM_LEASE_MARGIN_MS, STREAM_LOCK_DURATION_MS, StreamLease } from './stream-lease';
import { StreamOutcome, StreamSession } from './stream-session';
import { StreamSignalSubscriber } from './stream-signal-subscriber';
import { StreamStartError } from './start-retry';

/** The stored policy merged over the defaults (older rows may lack newer fields); zero retention stores no media type. */
export function effectivePolicy(stored: Record<string, unknown>, defaults: CapturePolicy): CapturePolicy {
  const s = stored as Partial<CapturePolicy>;
  return enforceZeroRetention({
    ...defaults,
    ...s,
    media_types: Array.isArray(s.media_types) ? s.media_types : defaults.media_types,
    video: storedVideoRule(s.video, defaults.video),
    deskshare: storedVideoRule(s.deskshare, defaults.deskshare),
    audio: { ...defaults.audio, ...s.audio },
    transcript: { ...defaults.transcript, ...s.transcript },
    chat: { ...defaults.chat, ...s.chat },
  });
}

/** A stream's handle on the audio spool (AudioSpoolStream), or NO_AUDIO. */
type StreamAudio = AudioSink & { end(how: StreamEnd): Promise<void>; eraseUser(userId: string): number };

/** The audio handle of a stream whose audio is not stored: takes nothing, spools nothing. */
const NO_AUDIO: StreamAudio = { append: () => false, end: () => Promise.resolve(), eraseUser: () => 0 };

const PRODUCT_ID_FIELD: Record<ZoomProduct, string> = {
  [ZoomProduct.Meeting]: 'meeting_uuid',
  [ZoomProduct.Webinar]: 'webinar_uuid',
  [ZoomProduct.VideoSdk]: 'session_id',
  [ZoomProduct.ContactCenter]: 'engagement_id',
};

/**
 * What happens to a stream's open audio segments when its job ends: written out when the
 * stream is over, dropped when Zoom revoked it (stop reason 8: its media is deleted), left
 * open for the next holder on a hand-over.
 */
export function audioEndFor(outcome: StreamOutcome): StreamEnd {
  switch (outcome.kind) {
    case 'stopped':
      return outcome.stopReason === STOP_REASON_STREAM_REVOKED ? 'discard' : 'finalize';
    case 'failed':
      return 'finalize';
    default:
      return 'keep';
  }
}

/** What a stream's start read and checked: all the run needs besides configuration. */
interface StreamStart {
  stream: RtmsStreamEntity;
  session: SessionEntity;
  policy: CapturePolicy;
  mediaTypes: ReturnType<typeof requestedMediaTypes>;
  /** What the handshakes are signed with. */
  identity: { meetingIdentity: string; rtmsStreamId: string; signature: string };
  /** The capture policy's filter, starting from what the session already stored. */
  filter: MediaItemFilter;
}

/** Builds a StreamSession for a `stream.run` job and runs it to its end. */
@Injectable()
export class StreamRunner {
  private readonly logger = new Logger(StreamRunner.name);

  constructor(
    private readonly config: ConfigService<AppConfig, true>,
    private readonly sessions: SessionsService,
    private readonly streams: StreamsService,
    private readonly recorder: StreamEventsRecorder,
    private readonly metrics: IngestMetrics,
    private readonly producer: JobProducer,
    private readonly running: RunningStreams,
    private readonly signals: StreamSignalSubscriber,
    @Inject(MEDIA_ITEM_FILTER_FACTORY) private readonly filters: MediaItemFilterFactory,
    private readonly audioSpool: AudioSpoolService,
    private readonly batches: MediaBatchService,
    private readonly holds: RecordingHolds,
    private readonly recording: RecordingReadyService,
    private readonly liveMedia: LiveMediaPublisher,
    private readonly liveText: LiveTextLog,
  ) {}

  get workerId(): string {
    return this.running.workerId;
  }

  /**
   * Runs the stream to its end. A start that fails on Postgres or Redis (before any socket)
   * throws StreamStartError, which StreamRunProcessor retries without using an attempt
   * (start-retry.ts); a start that gets through ends such a streak.
   */
  async run(job: Job<StreamRunPayload>): Promise<StreamOutcome> {
    if (this.running.closing) return { kind: 'handed_over' };
    let start: StreamStart | StreamOutcome;
    try {
      start = await this.start(job.data);
    } catch (err) {
      if (err instanceof UnrecoverableError) throw err;
      throw new StreamStartError(job.data.rtmsStreamId, err);
    }
    if ('kind' in start) return start;
    if (job.data.startFailures) {
      const { startFailures, ...rest } = job.data;
      this.logger.log(`Stream ${job.data.rtmsStreamId}: started after ${startFailures.count} failed start(s)`);
      void job.updateData(rest).catch((err: unknown) => this.logger.warn(`Stream ${job.data.rtmsStreamId}: could not clear its start failures: ${errorMessage(err)}`));
    }
    return this.runStarted(job, start);
  }

  /** Reads and checks what the stream needs and takes its recording hold; an outcome when there is nothing to run. */
  private async start({ rtmsStreamId, sessionId }: StreamRunPayload): Promise<StreamStart | StreamOutcome> {
    const stream = await this.streams.findByStreamId(rtmsStreamId);
    if (!stream) throw new UnrecoverableError(`Stream ${rtmsStreamId} does not exist`);
    if (stream.status === StreamStatus.Stopped || stream.status === StreamStatus.Failed) {
      this.logger.log(`Stream ${rtmsStreamId} already ${stream.status}; nothing to run`);
      await this.streamDrained(stream.sessionId, rtmsStreamId);
      return stream.status === StreamStatus.Stopped ? { kind: 'stopped', stopReason: stream.stopReason } : { kind: 'failed', reason: stream.failureReason ?? 'failed' };
    }
    const session: SessionEntity = await this.sessions.get(stream.sessionId ?? sessionId);
    const zoom = this.config.get('zoom', { infer: true });
    const fail = async (reason: string): Promise<StreamOutcome> => {
      await this.streams.markFailed(rtmsStreamId, reason, EventSource.Worker);
      return { kind: 'failed', reason };
    };
    const signer = signingCredentials(session.product, zoom);
    if (typeof signer === 'string') return fail(`${signer} are not configured; cannot sign the RTMS handshake of this ${session.product} stream`);
    if (!session.meetingUuid) return fail(`session has no ${PRODUCT_ID_FIELD[session.product] ?? 'meeting_uuid'} to sign the handshake with`);

    const policy = effectivePolicy(session.capturePolicy, this.config.get('capture', { infer: true }));
    const mediaTypes = requestedMediaTypes(policy);
    if (mediaTypes.length === 0) return fail('the capture policy requests no media type');
    const filter = await this.filters.forStream({ sessionId: session.id, rtmsStreamId }, policy);
    // Until its media has left this process, the stream holds its session's recording.ready (recording/).
    await this.holds.add([session.id], `stream:${rtmsStreamId}`);
    return { stream, session, policy, mediaTypes, filter, identity: { meetingIdentity: session.meetingUuid, rtmsStreamId, signature: rtmsSignature(signer.id, signer.secret, session.meetingUuid, rtmsStreamId) } };
  }

  /** Connects the stream and runs it to its end (the sockets, the media pipeline, the audio spool). */
  private async runStarted(job: Job<StreamRunPayload>, { stream, session, policy, mediaTypes, identity, filter }: StreamStart): Promise<StreamOutcome> {
    const rtmsStreamId = stream.rtmsStreamId;
    const rtms = this.config.get('rtms', { infer: true });
    const ids = { sessionId: session.id, rtmsStreamId };
    const mediaParams = mediaParamsFor(mediaTypes, policy, rtms.ingest.audioSendRateMs);
    // Audio that is not stored (zero retention, or audio.store false) never touches the spool: no files, no rows.
    const audio: StreamAudio =
      policy.audio.store === false
        ? NO_AUDIO
        : this.audioSpool.open({
            ...ids,
            segmentMs: Math.max(1, policy.audio.segment_seconds) * 1000,
            sampleRate: sampleRateHz(mediaParams.audio?.sample_rate),
            channels: Number(mediaParams.audio?.channel ?? 1),
          });
    const tap = this.liveMedia.openTap(session.id);
    const codecs = { video: Number(mediaParams.video?.codec), deskshare: Number(mediaParams.deskshare?.codec) };
    const media = new StreamMediaPipeline(ids, policy, filter, this.batches.batcher, audio, { tap, text: this.liveText, codecs }, {
      segmentMs: rtms.ingest.h264SegmentMs,
      maxBytes: rtms.ingest.h264SegmentMaxBytes,
      // One event per wait that dropped frames: the gap it leaves in the segment timeline is explained on the session's timeline.
      keyframeWait: (kind, w) =>
        void this.recorder
          .note(ids, 'video.keyframe_wait', { user_id: String(w.userId), kind, cause: w.cause, dropped_units: w.droppedUnits, waited_ms: w.waitedMs, ended: w.ended })
          .catch((err: unknown) => this.logger.warn(`Stream ${rtmsStreamId}: could not record a keyframe wait: ${errorMessage(err)}`)),
    });
    const streamSession = new StreamSession(
      {
        ...ids,
        identity,
        serverUrls: stream.serverUrls,
        policy,
        mediaTypes,
        mediaParams,
        takeover: stream.connectedAt !== null,
      },
      {
        config: rtms.ingest,
        urlPolicy: { allowedHosts: rtms.allowedHosts, allowInsecureWs: rtms.allowInsecureWs },
        streams: this.streams,
        recorder: this.recorder,
        metrics: this.metrics,
        media,
        liveText: this.liveText,
        // The lock was set by the fetch that BullMQ sent at processedOn (its client clock).
        lease: new StreamLease(STREAM_LOCK_DURATION_MS, STREAM_LEASE_MARGIN_MS, monotonicFromWallClock(job.processedOn ?? Date.now())),
        workerId: this.running.workerId,
        onFirstMediaHandshake: () => this.afterFirstMediaHandshake(session),
      },
    );
    this.running.add(streamSession);
    const unlisten = this.signals.listen(rtmsStreamId, (signal) => {
      if (signal.type !== 'erase_users') return streamSession.onSignal(signal);
      const dropped = (signal.userIds ?? []).reduce((n, userId) => n + audio.eraseUser(String(userId)), 0);
      this.logger.log(`Stream ${rtmsStreamId}: erasure dropped ${dropped} spooled audio segment window(s) of ${signal.userIds?.length ?? 0} participant(s)`);
    });
    let audioEnd: StreamEnd = 'keep';
    try {
      const outcome = await streamSession.run();
      this.metrics.streamEnds.inc({ outcome: outcome.kind });
      audioEnd = audioEndFor(outcome);
      if (outcome.kind === 'stopped' && outcome.stopReason === STOP_REASON_STREAM_REVOKED) await this.purgeRevoked(rtmsStreamId);
      return outcome;
    } finally {
      tap.close();
      unlisten();
      this.running.remove(streamSession);
      await audio.end(audioEnd);
      // The audio is spooled; the stream's hold goes once its batched media is queued too —
      // usually now (the session closed its pipeline), later if Redis held up the last
      // enqueue (the job does not wait for that). On a hand-over it stays for the next holder.
      if (audioEnd !== 'keep') {
        const batcher = this.batches.batcher;
        if (batcher.pendingItems(rtmsStreamId) === 0) await this.streamDrained(session.id, rtmsStreamId);
        else void batcher.whenSettled(rtmsStreamId).then(() => this.streamDrained(session.id, rtmsStreamId));
      }
    }
  }

  /**
   * Zoom revoked the stream (stop reason 8 in STREAM_STATE_UPDATE): its stored media must
   * be deleted now, as when the rtms_stopped webhook says so — which may come minutes
   * later, or not reach us. The purge job's id is the stream's, so the webhook's own
   * request for it adds nothing. Failing to queue it is logged loudly; the webhook's path
   * remains.
   */
  private async purgeRevoked(rtmsStreamId: string): Promise<void> {
    try {
      await this.producer.enqueue(JobName.MediaPurge, { rtmsStreamId });
    } catch (err) {
      this.logger.error(`Stream ${rtmsStreamId} was revoked by Zoom but its media purge could not be queued (the rtms_stopped webhook queues it again): ${errorMessage(err)}`);
    }
  }

  /** The stream's media has left this process: release its hold on the session's recording, which may now be complete. */
  async streamDrained(sessionId: string, rtmsStreamId: string): Promise<void> {
    try {
      await this.recording.afterMediaLanded(await this.holds.release([sessionId], `stream:${rtmsStreamId}`));
    } catch (err) {
      this.logger.warn(`Stream ${rtmsStreamId}: could not release its recording hold (the recording.ready deadline will): ${errorMessage(err)}`);
    }
  }

  /**
   * Zoom Rooms named in the capture policy are dispatched once the media flows. One job per
   * session (jobId): one waiting or running is left alone. One that finished is replaced,
   * not kept: BullMQ holds a failed job for days, and a plain add of its id would add
   * nothing, so rooms whose dispatch failed for good (a Zoom outage) would never go. Running
   * it again is safe: RoomDispatchesService.autoDispatch sends no room twice per session.
   */
  private async afterFirstMediaHandshake(session: SessionEntity): Promise<void> {
    const rooms = (session.capturePolicy as { zoom_rooms?: unknown }).zoom_rooms;
    if (!rooms || typeof rooms !== 'object') return;
    await this.producer.requeue(JobName.RoomsAutoDispatch, { sessionId: session.id });
  }
}
