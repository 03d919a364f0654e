import { DeletionEntryEntity } from './entities/deletion-entry.entity';

/** A deletion as the API shows it (snake_case, like the rest of the API). */
export function deletionView(d: DeletionEntryEntity) {
  return {
    id: d.id,
    reason: d.reason,
    session_id: d.sessionId,
    rtms_stream_id: d.rtmsStreamId,
    erasure_id: d.erasureId,
    categories: d.categories,
    objects_deleted: d.objectsDeleted,
    bytes_deleted: d.bytesDeleted,
    rows_deleted: d.rowsDeleted,
    actor: d.actor,
    api_key_fingerprint: d.apiKeyFingerprint,
    details: d.details,
    created_at: d.createdAt,
  };
}
