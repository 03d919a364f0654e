import type { CapturePolicy } from '../../sessions';
import { CaptureAdmission } from './capture-admission';

const policy = (p: Partial<CapturePolicy>): CapturePolicy =>
  ({
    media_types: ['audio', 'video', 'deskshare', 'transcript', 'chat'],
    include_user_ids: [],
    exclude_user_ids: [],
    transcript: { enabled: true, src_language: -1 },
    chat: { enabled: true },
    ...p,
  }) as CapturePolicy;

describe('CaptureAdmission', () => {
  it('live events about an excluded participant do not leave the stream; events about no one do', () => {
    const a = new CaptureAdmission(policy({ exclude_user_ids: ['102'] }));
    expect(a.admitsParticipant(101)).toBe(true);
    expect(a.admitsParticipant(102)).toBe(false);
    expect(a.admitsParticipant('102')).toBe(false);
    expect(a.admitsParticipant(null)).toBe(true);
    expect(a.admitsParticipant(undefined)).toBe(true);
  });

  it('with an include list, only its participants', () => {
    const a = new CaptureAdmission(policy({ include_user_ids: ['101'] }));
    expect(a.admitsParticipant(101)).toBe(true);
    expect(a.admitsParticipant(103)).toBe(false);
  });

  it('media keeps its own rules (types, transcript/chat switches, mixed audio passes the user lists)', () => {
    const a = new CaptureAdmission(policy({ include_user_ids: ['101'], media_types: ['audio', 'transcript'], chat: { enabled: false } as CapturePolicy['chat'] }));
    expect(a.refusal('audio', 0)).toBeNull();
    expect(a.refusal('audio', 102)).toBe('not_included_user');
    expect(a.refusal('video', 101)).toBe('media_type');
    expect(a.refusal('transcript', 101)).toBeNull();
  });

  it('a message attributed to no one (user 0 outside mixed audio) is refused while user lists are set, and passes without them', () => {
    const excluding = new CaptureAdmission(policy({ exclude_user_ids: ['102'] }));
    expect(excluding.refusal('chat', 0)).toBe('unattributed');
    expect(excluding.refusal('transcript', 0)).toBe('unattributed');
    expect(excluding.refusal('chat', 101)).toBeNull();
    expect(new CaptureAdmission(policy({ include_user_ids: ['101'] })).refusal('chat', 0)).toBe('unattributed');
    expect(new CaptureAdmission(policy({})).refusal('chat', 0)).toBeNull();
  });
});
