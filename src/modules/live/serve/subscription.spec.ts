import { LiveTextEntry } from '../live-protocol';
import { Subscription, SubscriptionSpec } from './subscription';

const S1 = '11111111-1111-4111-8111-111111111111';
const S2 = '22222222-2222-4222-8222-222222222222';

function sub(over: Partial<SubscriptionSpec> = {}): Subscription {
  return new Subscription({ id: 'a', sessions: [S1], textMedia: ['transcript', 'events'], binaryMedia: ['audio'], participants: null, resumeFrom: null, ...over });
}

function entry(media: LiveTextEntry['media'], data: Record<string, unknown>): LiveTextEntry {
  return { media, session_id: S1, ts: 1, data };
}

describe('Subscription matching', () => {
  it('covers its sessions, or every session for all', () => {
    expect(sub().coversSession(S1)).toBe(true);
    expect(sub().coversSession(S2)).toBe(false);
    expect(sub({ sessions: 'all' }).coversSession(S2)).toBe(true);
  });

  it('filters text by media', () => {
    expect(sub().wantsEntry(entry('transcript', { user_id: 1 }))).toBe(true);
    expect(sub().wantsEntry(entry('chat', { user_id: 1 }))).toBe(false);
    expect(sub({ textMedia: [] }).wantsText).toBe(false);
  });

  it('filters transcript and chat by participant, numbers and strings alike', () => {
    const s = sub({ textMedia: ['transcript', 'chat', 'events'], participants: [16778240, '42'] });
    expect(s.wantsEntry(entry('transcript', { user_id: 16778240 }))).toBe(true);
    expect(s.wantsEntry(entry('chat', { user_id: '16778240' }))).toBe(true);
    expect(s.wantsEntry(entry('chat', { user_id: 42 }))).toBe(true);
    expect(s.wantsEntry(entry('transcript', { user_id: 7 }))).toBe(false);
    expect(s.wantsEntry(entry('transcript', {}))).toBe(false);
  });

  it('filters participant events by user_id and lets session-wide events through', () => {
    const s = sub({ participants: [5] });
    expect(s.wantsEntry(entry('events', { event: 'participant.joined', user_id: 5 }))).toBe(true);
    expect(s.wantsEntry(entry('events', { event: 'participant.joined', user_id: 6 }))).toBe(false);
    expect(s.wantsEntry(entry('events', { event: 'session.status_changed' }))).toBe(true);
  });

  it('filters frames by media and participant; mixed audio always passes', () => {
    const s = sub({ binaryMedia: ['video', 'audio'], participants: ['5'] });
    expect(s.binaryMedia).toEqual(['audio', 'video']);
    expect(s.wantsFrame({ media: 'audio', userId: 5 })).toBe(true);
    expect(s.wantsFrame({ media: 'audio', userId: 6 })).toBe(false);
    expect(s.wantsFrame({ media: 'audio', userId: 0 })).toBe(true);
    expect(s.wantsFrame({ media: 'deskshare', userId: 5 })).toBe(false);
    expect(sub().wantsFrame({ media: 'audio', userId: 99 })).toBe(true);
  });

  it('resumes each session after one id, its own id, or the smallest id given', () => {
    expect(sub().resumeIdFor(S1)).toBeNull();
    expect(sub({ resumeFrom: '5-0' }).resumeIdFor(S2)).toBe('5-0');
    const perSession = sub({ sessions: [S1, S2], resumeFrom: { [S1]: '100-3' } });
    expect(perSession.resumeIdFor(S1)).toBe('100-3');
    expect(perSession.resumeIdFor(S2)).toBe('100-3');
    expect(sub({ sessions: [S1, S2], resumeFrom: { [S1]: '100-3', [S2]: '99-7' } }).resumeIdFor('33333333-3333-4333-8333-333333333333')).toBe('99-7');
  });
});
