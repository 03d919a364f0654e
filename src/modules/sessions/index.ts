/*
 * The sessions module's door: the shared core other modules write through (the session
 * lifecycle, the event inbox and timeline, streams) and the types they exchange. Its
 * repositories, controllers and DTO internals stay behind it.
 */
export { SessionsModule } from './sessions.module';
export { SessionsApiModule } from './sessions-api.module';
export { SessionsService } from './sessions.service';
export type { TransitionOptions, TransitionResult } from './sessions.service';
export type { EndedSession } from './repositories/sessions.repository';
export { SessionEventsService } from './session-events.service';
export type { PendingZoomEvent, RecordEventInput, StoredZoomEventInput } from './session-events.service';
export { StreamsService } from './streams.service';
export { SessionCleanupHooks } from './session-cleanup.hooks';
export type { SessionCleanupHook, SessionRowCounter, SessionRowDeleter, StoredObjectsDeleted } from './session-cleanup.hooks';
export type { PersonRef } from './payload-match';
export { normaliseEmail, ParticipantDirectory, PARTICIPANT_EMAIL_MAX } from './participant-directory.service';
export type { ParticipantRef, SessionErasureFacts } from './repositories/participant-lookup.repository';
export { SessionRetentionService } from './session-retention.service';
export { RETENTION_CATEGORIES } from './repositories/session-retention.repository';
export type { DueSession, RetentionCategory } from './repositories/session-retention.repository';
export { retentionClockFrom } from './retention-clock';
export { SessionEntity, SessionStatus, ZoomProduct } from './entities/session.entity';
export { RtmsStreamEntity, StreamStatus } from './entities/rtms-stream.entity';
export { EventProcessingStatus, EventSource, SessionEventEntity } from './entities/session-event.entity';
export { ParticipantEntity } from './entities/participant.entity';
export { IllegalTransitionError, SessionNotFoundError } from './sessions.errors';
export { canTransition } from './session-state';
export { sessionView, streamView } from './session.views';
export { capturePolicyView, enforceZeroRetention, isZeroRetention, resolveCapturePolicy, storedVideoRule, zoomRoomsPasscodeAad } from './capture-policy';
export type { CapturePolicy, FrameSamplingPolicy, RecordingPolicy, SessionRetentionPolicy, StoredZoomRoomsPolicy, VideoFormat, VideoResolution } from './capture-policy';
export { H264_DEFAULT_FPS, InvalidCapturePolicyError, isH264, videoFormatOf, videoMediaParams } from './video-capture';
export type { VideoKind } from './video-capture';
export { CapturePolicyDto } from './dto/capture-policy.dto';
export type { MediaTypeName } from './dto/capture-policy.dto';
export { MAX_MERGED_RECEIVED_COUNTS } from './received-counts';
export type { ReceivedCounts } from './received-counts';
export { resealCapturePolicyPasscodes } from './capture-policy-passcodes.reseal';
