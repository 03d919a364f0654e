import { SessionStatus as S } from './entities/session.entity';
import { canTransition, SESSION_TRANSITIONS } from './session-state';

describe('session status machine', () => {
  const allowed: Array<[S, S]> = [
    [S.Created, S.RtmsStartRequested],
    [S.Created, S.Streaming],
    [S.RtmsStartRequested, S.Streaming],
    [S.RtmsStartRequested, S.Failed],
    [S.Streaming, S.Paused],
    [S.Paused, S.Streaming],
    [S.Streaming, S.Stopped],
    [S.Paused, S.Stopped],
    [S.Streaming, S.Failed],
    [S.Failed, S.RtmsStartRequested],
  ];
  const refused: Array<[S, S]> = [
    [S.Created, S.Paused],
    [S.Stopped, S.Streaming],
    [S.Stopped, S.RtmsStartRequested],
    [S.Stopped, S.Failed],
    [S.Failed, S.Streaming],
    [S.Paused, S.RtmsStartRequested],
    [S.Streaming, S.Created],
    [S.Streaming, S.Streaming],
  ];

  it.each(allowed)('allows %s → %s', (from, to) => expect(canTransition(from, to)).toBe(true));
  it.each(refused)('refuses %s → %s', (from, to) => expect(canTransition(from, to)).toBe(false));

  it('defines transitions for every status and never to the same status', () => {
    for (const status of Object.values(S)) {
      expect(SESSION_TRANSITIONS[status]).toBeDefined();
      expect(SESSION_TRANSITIONS[status]).not.toContain(status);
    }
  });
});
