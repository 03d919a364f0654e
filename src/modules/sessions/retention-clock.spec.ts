import { SessionStatus } from './entities/session.entity';
import { retentionClockFrom } from './retention-clock';

const created = new Date('2026-01-01T00:00:00Z');
const started = new Date('2026-01-01T00:05:00Z');
const ended = new Date('2026-01-01T01:00:00Z');

describe('retentionClockFrom', () => {
  it('starts at the end of a stopped or failed session', () => {
    expect(retentionClockFrom({ status: SessionStatus.Stopped, createdAt: created, startedAt: started, endedAt: ended })).toEqual(ended);
    expect(retentionClockFrom({ status: SessionStatus.Failed, createdAt: created, startedAt: null, endedAt: ended })).toEqual(ended);
  });

  it('starts at creation for a session that never streamed', () => {
    expect(retentionClockFrom({ status: SessionStatus.Created, createdAt: created, startedAt: null, endedAt: null })).toEqual(created);
    expect(retentionClockFrom({ status: SessionStatus.RtmsStartRequested, createdAt: created, startedAt: null, endedAt: null })).toEqual(created);
  });

  it('does not run while the session streams, is paused, or was asked to start again after streaming', () => {
    expect(retentionClockFrom({ status: SessionStatus.Streaming, createdAt: created, startedAt: started, endedAt: null })).toBeNull();
    expect(retentionClockFrom({ status: SessionStatus.Paused, createdAt: created, startedAt: started, endedAt: null })).toBeNull();
    expect(retentionClockFrom({ status: SessionStatus.RtmsStartRequested, createdAt: created, startedAt: started, endedAt: null })).toBeNull();
  });
});
