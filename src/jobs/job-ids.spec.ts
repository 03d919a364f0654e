import { JobName } from './job-names';
import { jobIdFor } from './job-ids';
import { jobOptionsFor } from './job-options';

const rooms = { zoomRooms: { attempts: 7, backoffMs: 1500 } } as Parameters<typeof jobOptionsFor>[2];

describe('job ids', () => {
  it('room jobs are deterministic per dispatch and round, and legal BullMQ custom ids (no ":")', () => {
    const id = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
    expect(jobIdFor(JobName.RoomJoin, { dispatchId: id, round: 1 })).toBe(`room-join-${id}-1`);
    expect(jobIdFor(JobName.RoomLeave, { dispatchId: id, round: 2 })).toBe(`room-leave-${id}-2`);
    expect(jobIdFor(JobName.RoomLeave, { dispatchId: id, round: 2 })).not.toContain(':');
  });

  it('name the jobs that must exist once: one per stored event, stream, request, session or token version', () => {
    expect(jobIdFor(JobName.ZoomEventProcess, { eventId: 'e1' })).toBe('zoom-event-e1');
    expect(jobIdFor(JobName.StreamRun, { rtmsStreamId: 'st1', sessionId: 's1' })).toBe('st1');
    expect(jobIdFor(JobName.RtmsStop, { sessionId: 's1', requestId: 'r1' })).toBe('r1');
    expect(jobIdFor(JobName.MediaPurge, { rtmsStreamId: 'st1' })).toBe('media-purge-st1');
    expect(jobIdFor(JobName.MediaPurge, { rtmsStreamId: 'st1', pass: 2 })).toBe('media-purge-2-st1');
    expect(jobIdFor(JobName.RoomsAutoDispatch, { sessionId: 's1' })).toBe('rooms-auto-dispatch-s1');
    expect(jobIdFor(JobName.RoomsMeetingEnded, { sessionId: 's1' })).toBe('rooms-meeting-ended-s1');
    expect(jobIdFor(JobName.TokenRefresh, { connectionId: 'c1', tokenVersion: 3 })).toBe('token-refresh-c1-v3');
    expect(jobIdFor(JobName.OAuthDeauthorize, { eventId: 'e9', zoomUserId: 'u1' })).toBe('oauth-deauthorize-e9');
  });

  it('name a composition per session and revision: the capture-complete job once, each re-compose its own', () => {
    const s = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
    expect(jobIdFor(JobName.RecordingCompose, { sessionId: s, revision: 'auto' })).toBe(`recording-compose-${s}-auto`);
    expect(jobIdFor(JobName.RecordingCompose, { sessionId: s, revision: 3 })).toBe(`recording-compose-${s}-r3`);
    expect(jobIdFor(JobName.RecordingCompose, { sessionId: s, revision: 3 })).not.toBe(jobIdFor(JobName.RecordingCompose, { sessionId: s, revision: 4 }));
    expect(jobIdFor(JobName.RecordingCompose, { sessionId: s, revision: 1 })).not.toContain(':');
  });

  it('leave media batches to BullMQ', () => {
    expect(jobIdFor(JobName.FrameSave, { streams: [] })).toBeUndefined();
  });
});

describe('job options', () => {
  it('give room calls the configured retry budget and their id', () => {
    expect(jobOptionsFor(JobName.RoomJoin, { dispatchId: 'd1', round: 1 }, rooms)).toEqual({
      attempts: 7,
      backoff: { type: 'exponential', delay: 1500 },
      jobId: 'room-join-d1-1',
    });
  });

  it('give a composition a longer retry budget than the default (storage outages), with its id', () => {
    expect(jobOptionsFor(JobName.RecordingCompose, { sessionId: 's1', revision: 'auto' }, rooms)).toEqual({
      attempts: 8,
      backoff: { type: 'exponential', delay: 5000 },
      jobId: 'recording-compose-s1-auto',
    });
  });

  it('keep the stream job retrying across crashes and hand-overs', () => {
    expect(jobOptionsFor(JobName.StreamRun, { rtmsStreamId: 'st1', sessionId: 's1' }, rooms)).toMatchObject({ attempts: 20, jobId: 'st1' });
  });
});
