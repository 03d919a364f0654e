import { AppEventSequenceEntity } from '../modules/app-events/entities/app-event-sequence.entity';
import { AppEventEntity } from '../modules/app-events/entities/app-event.entity';
import { WebhookAttemptEntity } from '../modules/app-webhooks/entities/webhook-attempt.entity';
import { WebhookEndpointEventEntity } from '../modules/app-webhooks/entities/webhook-endpoint-event.entity';
import { WebhookEndpointEntity } from '../modules/app-webhooks/entities/webhook-endpoint.entity';
import { WebhookMessageEntity } from '../modules/app-webhooks/entities/webhook-message.entity';
import { AudioPartEntity } from '../modules/media-ingest/entities/audio-part.entity';
import { AudioSegmentEntity } from '../modules/media-ingest/entities/audio-segment.entity';
import { RecordingCompletionEntity } from '../modules/media-ingest/entities/recording-completion.entity';
import { MediaArtifactEntity } from '../modules/media-ingest/entities/media-artifact.entity';
import { TranscriptSegmentEntity } from '../modules/media-ingest/entities/transcript-segment.entity';
import { OAuthConnectionEntity } from '../modules/oauth/entities/oauth-connection.entity';
import { RtmsControlRequestEntity } from '../modules/rtms-control/entities/rtms-control-request.entity';
import { ParticipantEntity } from '../modules/sessions/entities/participant.entity';
import { RtmsStreamEntity } from '../modules/sessions/entities/rtms-stream.entity';
import { SessionEventEntity } from '../modules/sessions/entities/session-event.entity';
import { SessionEntity } from '../modules/sessions/entities/session.entity';
import { DeletionEntryEntity } from '../modules/deletion-log/entities/deletion-entry.entity';
import { RetentionPurgeEntity } from '../modules/retention/entities/retention-purge.entity';
import { RoomDispatchEntity } from '../modules/zoom-rooms/entities/room-dispatch.entity';
import { ErasureEntity } from '../modules/retention/erasure/entities/erasure.entity';
import { RecordingCompositionEntity } from '../modules/media-compose/entities/recording-composition.entity';

/** Every entity, listed explicitly (no globs) so the app and the CLI see the same set. */
export const ENTITIES = [SessionEntity, RtmsStreamEntity, SessionEventEntity, ParticipantEntity, OAuthConnectionEntity, RtmsControlRequestEntity, RoomDispatchEntity, MediaArtifactEntity, TranscriptSegmentEntity, AudioSegmentEntity, AudioPartEntity, RecordingCompletionEntity, AppEventEntity, AppEventSequenceEntity, WebhookEndpointEntity, WebhookMessageEntity, WebhookAttemptEntity, WebhookEndpointEventEntity, DeletionEntryEntity, ErasureEntity, RetentionPurgeEntity, RecordingCompositionEntity];
