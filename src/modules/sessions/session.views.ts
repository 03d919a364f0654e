import { capturePolicyView } from './capture-policy';
import { ParticipantEntity } from './entities/participant.entity';
import { RtmsStreamEntity } from './entities/rtms-stream.entity';
import { SessionEventEntity } from './entities/session-event.entity';
import { SessionEntity } from './entities/session.entity';

/** API representations (snake_case, like Zoom's own API). */
export function sessionView(s: SessionEntity) {
  return {
    id: s.id,
    platform: s.platform,
    product: s.product,
    meeting_id: s.meetingId,
    meeting_uuid: s.meetingUuid,
    status: s.status,
    stop_reason: s.stopReason,
    stop_reason_name: s.stopReasonName,
    failure_reason: s.failureReason,
    capture_policy: capturePolicyView(s.capturePolicy),
    metadata: s.metadata,
    received_counts: s.receivedCounts ?? {},
    legal_hold: s.legalHoldAt ? { placed_at: s.legalHoldAt, reason: s.legalHoldReason, placed_by: s.legalHoldBy } : null,
    started_at: s.startedAt,
    ended_at: s.endedAt,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}

export function eventView(e: SessionEventEntity) {
  return {
    id: e.id,
    source: e.source,
    event_type: e.eventType,
    rtms_stream_id: e.rtmsStreamId,
    event_ts: e.eventTs === null ? null : Number(e.eventTs),
    status: e.status,
    error: e.error,
    payload: e.payload,
    created_at: e.createdAt,
    processed_at: e.processedAt,
  };
}

export function participantView(p: ParticipantEntity) {
  return {
    id: p.id,
    zoom_user_id: p.zoomUserId,
    user_name: p.userName,
    joined_at: p.joinedAt,
    left_at: p.leftAt,
  };
}

export function streamView(s: RtmsStreamEntity) {
  return {
    rtms_stream_id: s.rtmsStreamId,
    status: s.status,
    owner_worker_id: s.ownerWorkerId,
    connected_at: s.connectedAt,
    last_keepalive_at: s.lastKeepaliveAt,
    reconnect_counts: s.reconnectCounts,
    failover_count: s.failoverCount,
    stop_reason: s.stopReason,
    failure_reason: s.failureReason,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}
