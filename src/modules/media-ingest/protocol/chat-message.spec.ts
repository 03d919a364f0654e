import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { toMediaItem } from './rtms-message-parser';

const chat = (content: Record<string, unknown>) => toMediaItem({ msg_type: RtmsMessageType.MediaDataChat, content }, 1_000);

/** Chat (msg 18) in both shapes rtms-protocol.md §3 gives. */
describe('chat messages (msg 18)', () => {
  it('newer shape: the text, sender and message ids come from the JSON object in content.data', () => {
    const data = JSON.stringify({
      chat_session: 'cs-1',
      operation_type: 1,
      message_id: 'm-7',
      parent_message_id: null,
      sender: { user_id: 16778240, user_name: 'Ann Lee' },
      receiver: { user_id: 16779264, user_name: 'Bob' },
      files: [],
      delete_file_id_list: [],
      data: 'hello {there}',
    });
    const r = chat({ timestamp: 1727384100123, data });
    expect(r).toMatchObject({
      ok: true,
      item: {
        msgType: 18,
        userId: 16778240,
        userName: 'Ann Lee',
        timestamp: 1727384100123,
        data: 'hello {there}',
        meta: { chat_session: 'cs-1', operation_type: 1, message_id: 'm-7', parent_message_id: null, receiver_user_id: 16779264 },
      },
    });
  });

  it('newer shape without text (a deletion) keeps the operation and an empty text', () => {
    const r = chat({ timestamp: 5, data: JSON.stringify({ operation_type: 2, message_id: 'm-7', sender: { user_id: '42' } }) });
    expect(r).toMatchObject({ ok: true, item: { userId: 42, data: '', meta: { operation_type: 2, message_id: 'm-7' } } });
  });

  it('older shape: plain text, attributed to no one (user 0) unless content names a user', () => {
    expect(chat({ timestamp: 5, data: 'plain words' })).toMatchObject({ ok: true, item: { userId: 0, data: 'plain words' } });
    expect(chat({ timestamp: 5, data: '{not json', user_id: 7, user_name: 'Eve' })).toMatchObject({ ok: true, item: { userId: 7, userName: 'Eve', data: '{not json' } });
    // JSON that is not an object is text as well.
    expect(chat({ timestamp: 5, data: '["a"]' })).toMatchObject({ ok: true, item: { userId: 0, data: '["a"]' } });
  });

  it('the sender object wins over content.user_id (Zoom library order); a sender id that is not an id is refused', () => {
    expect(chat({ timestamp: 5, user_id: 1, data: JSON.stringify({ sender: { user_id: 2 }, data: 'x' }) })).toMatchObject({ ok: true, item: { userId: 2 } });
    expect(chat({ timestamp: 5, data: JSON.stringify({ sender: { user_id: 'not-a-number' }, data: 'x' }) })).toEqual({ ok: false, reason: 'bad_user_id' });
    expect(chat({ data: JSON.stringify({ data: 'x' }) })).toEqual({ ok: false, reason: 'bad_timestamp' });
  });
});
