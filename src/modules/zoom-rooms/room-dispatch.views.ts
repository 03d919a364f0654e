import { RoomDispatchEntity } from './entities/room-dispatch.entity';

/** API representation of a dispatch: never the passcode, not even sealed. */
export function dispatchView(d: RoomDispatchEntity) {
  return {
    id: d.id,
    room_id: d.roomId,
    room_name: d.roomName,
    meeting_number: d.meetingNumber,
    has_passcode: d.passcodeEnc !== null,
    session_id: d.sessionId,
    source: d.source,
    status: d.status,
    leave_after_seconds: d.leaveAfterSeconds,
    round: d.round,
    attempts: d.attempts,
    throttled_count: d.throttledCount,
    failed_step: d.failedStep,
    zoom_status: d.zoomStatus,
    zoom_code: d.zoomCode,
    zoom_message: d.zoomMessage,
    error: d.error,
    next_attempt_at: d.nextAttemptAt,
    joined_at: d.joinedAt,
    leave_at: d.leaveAt,
    left_at: d.leftAt,
    end_reason: d.endReason,
    completed_at: d.completedAt,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  };
}

export type DispatchView = ReturnType<typeof dispatchView>;

/** Job ids are deterministic per dispatch and round: a redelivered job never adds a second one. */
export const passcodeAad = (dispatchId: string): string => `room_dispatches:${dispatchId}:passcode`;
