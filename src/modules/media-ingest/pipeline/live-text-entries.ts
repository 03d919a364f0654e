import type { MediaItem } from '../../../jobs/job-payloads';
import type { LiveTextEntry } from '../../live';

const metaOf = (item: MediaItem, key: string): string | number | boolean | null => item.meta?.[key] ?? null;

/** A transcript line (msg 17) as its session's live log keeps it. */
export function transcriptEntry(sessionId: string, item: MediaItem): LiveTextEntry {
  return {
    media: 'transcript',
    session_id: sessionId,
    ts: item.timestamp,
    received_at: item.receivedAt,
    data: {
      user_id: item.userId,
      user_name: item.userName ?? null,
      text: item.data,
      language: metaOf(item, 'language'),
      start_time: metaOf(item, 'start_time'),
      end_time: metaOf(item, 'end_time'),
      attribute: metaOf(item, 'attribute'),
    },
  };
}

/** A chat message (msg 18) as its session's live log keeps it. */
export function chatEntry(sessionId: string, item: MediaItem): LiveTextEntry {
  return {
    media: 'chat',
    session_id: sessionId,
    ts: item.timestamp,
    received_at: item.receivedAt,
    data: {
      user_id: item.userId,
      user_name: item.userName ?? null,
      text: item.data,
      message_id: metaOf(item, 'message_id'),
      parent_message_id: metaOf(item, 'parent_message_id'),
      chat_session: metaOf(item, 'chat_session'),
      operation_type: metaOf(item, 'operation_type'),
      receiver_user_id: metaOf(item, 'receiver_user_id'),
    },
  };
}
