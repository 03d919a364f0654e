import type { ErasureEntity } from './entities/erasure.entity';

/** An erasure as the API shows it: progress and report, never the subject's value. */
export function erasureView(e: ErasureEntity) {
  return {
    id: e.id,
    status: e.status,
    subject_kind: e.subjectKind,
    subject_hash: e.subjectHash,
    subject_unresolved: e.subjectUnresolved,
    requested_by: e.requestedBy,
    owner: e.owner,
    counts: e.counts,
    bytes_deleted: e.bytesDeleted,
    sessions_affected: e.sessionsAffected.length,
    affected_sessions: e.sessionsAffected,
    sessions_held: e.sessionsHeld,
    mixed_audio_sessions: e.mixedAudioSessions,
    spool_segments_dropped: e.spoolSegmentsDropped,
    error: e.error,
    created_at: e.createdAt.toISOString(),
    started_at: e.startedAt?.toISOString() ?? null,
    finished_at: e.finishedAt?.toISOString() ?? null,
  };
}

export type ErasureView = ReturnType<typeof erasureView>;
