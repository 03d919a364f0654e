import { erasePersonFromPayload } from './payload-redaction';

const byId = { userIds: new Set(['42']), name: null };

describe('erasePersonFromPayload', () => {
  it('deletes an event about them alone: active speaker, sharing, a note naming their user id (number or string)', () => {
    expect(erasePersonFromPayload({ event_type: 2, user_id: 42, user_name: 'Ann', timestamp: 1 }, byId)).toEqual({ action: 'delete' });
    expect(erasePersonFromPayload({ event_type: 5, user_id: '42', user_name: 'Ann' }, byId)).toEqual({ action: 'delete' });
    expect(erasePersonFromPayload({ user_id: '42', kind: 'video', cause: 'start' }, byId)).toEqual({ action: 'delete' });
  });

  it("deletes Zoom's participant webhook (the participant is an object of its own, not an entry of a list)", () => {
    const hook = { event: 'meeting.participant_joined', payload: { object: { uuid: 'u', participant: { user_id: '42', user_name: 'Ann', email: 'ann@example.com' } } } };
    expect(erasePersonFromPayload(hook, byId)).toEqual({ action: 'delete' });
  });

  it('deletes a list that named only them (nobody else is left in it)', () => {
    expect(erasePersonFromPayload({ event_type: 3, participants: [{ user_id: 42, user_name: 'Ann' }] }, byId)).toEqual({ action: 'delete' });
    expect(erasePersonFromPayload({ reason: 'spool_host_lost', items: { audio_segment: 2 }, participants: [{ user_id: '42', user_name: 'Ann' }] }, byId)).toEqual({ action: 'delete' });
  });

  it("keeps a list naming others too, without their entries", () => {
    const joined = { event_type: 3, timestamp: 5, participants: [{ user_id: 42, user_name: 'Ann' }, { user_id: 7, user_name: 'Bo' }] };
    expect(erasePersonFromPayload(joined, byId)).toEqual({ action: 'redact', payload: { event_type: 3, timestamp: 5, participants: [{ user_id: 7, user_name: 'Bo' }] } });
    const lost = { reason: 'spool_host_lost', participants: [{ user_id: '7', user_name: 'Bo' }, { user_id: '42', user_name: 'Ann' }], from: 'x' };
    expect(erasePersonFromPayload(lost, byId)).toEqual({ action: 'redact', payload: { reason: 'spool_host_lost', participants: [{ user_id: '7', user_name: 'Bo' }], from: 'x' } });
  });

  it('by name: an entry with their name (NFC) goes even without a user id of theirs, and so does an event naming them elsewhere', () => {
    const byName = { userIds: new Set<string>(), name: 'Zo\u00eb' };
    const list = { participants: [{ user_id: 9, user_name: 'Zoe\u0308' }, { user_id: 7, user_name: 'Bo' }] };
    expect(erasePersonFromPayload(list, byName)).toEqual({ action: 'redact', payload: { participants: [{ user_id: 7, user_name: 'Bo' }] } });
    expect(erasePersonFromPayload({ host: { name: 'Zo\u00eb' }, participants: [{ user_id: 7 }] }, byName)).toEqual({ action: 'delete' });
    // Case counts, as everywhere names are matched.
    expect(erasePersonFromPayload({ user_id: 9, user_name: 'zo\u00eb' }, byName)).toEqual({ action: 'keep' });
  });

  it("keeps an event with nothing of theirs (someone else's, or their id only as text elsewhere)", () => {
    expect(erasePersonFromPayload({ event_type: 2, user_id: 7, user_name: 'Bo' }, byId)).toEqual({ action: 'keep' });
    expect(erasePersonFromPayload({ note: '42', participants: [{ user_id: 420 }] }, byId)).toEqual({ action: 'keep' });
  });
});
