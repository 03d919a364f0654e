import { SessionStatus } from './entities/session.entity';
import { retentionClockFrom } from './retention-clock';

const created = new Date('2026-01-01T00:00:00Z');
const started = new Date('2026-01-01T00:05:00Z');
const ended = new Date('2026-01-01T01:00:00Z');

describe('retentionClockFrom', () => {
  it('starts at the end of a stopped or failed session', () => {
    expect(retentionClockFrom({ status: SessionStatus.Stopped, createdAt: created, startedAt: started, endedAt: ended, retentionFrom: null })).toEqual(ended);
    expect(retentionClockFrom({ status: SessionStatus.Failed, createdAt: created, startedAt: null, endedAt: ended, retentionFrom: created })).toEqual(ended);
  });

  it('starts at creation for a session that never streamed', () => {
    expect(retentionClockFrom({ status: SessionStatus.Created, createdAt: created, startedAt: null, endedAt: null, retentionFrom: created })).toEqual(created);
    expect(retentionClockFrom({ status: SessionStatus.RtmsStartRequested, createdAt: created, startedAt: null, endedAt: null, retentionFrom: created })).toEqual(created);
  });

  it('does not run while the session streams or is paused', () => {
    expect(retentionClockFrom({ status: SessionStatus.Streaming, createdAt: created, startedAt: started, endedAt: null, retentionFrom: ended })).toBeNull();
    expect(retentionClockFrom({ status: SessionStatus.Paused, createdAt: created, startedAt: started, endedAt: null, retentionFrom: null })).toBeNull();
  });

  it('keeps the clock of the run that ended while a restart has not streamed yet (Zoom may accept it and never stream)', () => {
    // failed at `ended`, then POST /rtms/start: rtms_start_requested, ended_at cleared, the stored clock still the failure's end.
    expect(retentionClockFrom({ status: SessionStatus.RtmsStartRequested, createdAt: created, startedAt: started, endedAt: null, retentionFrom: ended })).toEqual(ended);
    // Once the new run streams the clock stops.
    expect(retentionClockFrom({ status: SessionStatus.Streaming, createdAt: created, startedAt: started, endedAt: null, retentionFrom: ended })).toBeNull();
  });
});
