import { ErasureService } from './erasure.service';

const NO_ROWS = { video_frames: 0, share_frames: 0, video_segments: 0, share_segments: 0, audio_segments: 0, chat_messages: 0, transcript_segments: 0, spool_segments: 0 };

/** An erasure of one session against stand-ins: what the person has there is given per test. */
function setup(opts: {
  objects?: Array<{ storageKey: string; bytes: number; kind: string }>;
  leftovers?: { objects: number; bytes: number };
  rows?: Partial<typeof NO_ROWS>;
  participants?: number;
  timeline?: { zoomEvents: number; workerEvents: number; redacted: number };
}) {
  const media = {
    markErased: jest.fn(async () => undefined),
    userObjects: jest.fn(async () => opts.objects ?? []),
    deleteObjects: jest.fn(async () => undefined),
    lockUserSegments: jest.fn(async () => ({ total: 0, open: 0 })),
    deleteUserFolders: jest.fn(async () => opts.leftovers ?? { objects: 0, bytes: 0 }),
    deleteUserRows: jest.fn(async () => ({ ...NO_ROWS, ...opts.rows })),
  };
  const participants = {
    lockSessionFacts: jest.fn(async () => ({ id: 's1', owner: null, legalHoldAt: null })),
    deleteParticipants: jest.fn(async () => opts.participants ?? 0),
    eraseEventsOfUsers: jest.fn(async () => opts.timeline ?? { zoomEvents: 0, workerEvents: 0, redacted: 0 }),
  };
  const deletionLog = { record: jest.fn(async () => ({ id: 'd1' })) };
  const erasures = { addProgress: jest.fn(async () => undefined) };
  const svc = new ErasureService(
    erasures as never,
    participants as never,
    { listForSession: async () => [] } as never,
    media as never,
    { deleteComposed: async () => ({ objects: 0, bytes: 0 }) } as never,
    deletionLog as never,
    {} as never,
    {} as never,
    {} as never,
    { transaction: async (fn: (em: unknown) => unknown) => fn({}) } as never,
    { get: () => ({ ingest: { audioFlushMs: 1, batchFlushMs: 1 } }) } as never,
    { deleteOfUsers: async () => ({ appEvents: 0, webhookMessages: 0 }) } as never,
  );
  const eraseSession = (subject: { kind: string; value: string }) =>
    (svc as unknown as { eraseSession: (...a: unknown[]) => Promise<unknown> }).eraseSession({ id: 'e1', requestedBy: 'fp', subjectHash: 'h' }, subject, 's1', ['42']);
  return { eraseSession, deletionLog, erasures, participants };
}

describe('ErasureService.eraseSession', () => {
  it('counts the objects its participant folders still held (no row) in the deletion log and the report', async () => {
    const { eraseSession, deletionLog, erasures } = setup({
      objects: [{ storageKey: 's1/video/Ann_42/1.jpg', bytes: 10, kind: 'video_frame' }],
      leftovers: { objects: 5, bytes: 50 },
      rows: { video_frames: 1 },
    });
    await eraseSession({ kind: 'zoom_user_id', value: '42' });
    expect(deletionLog.record).toHaveBeenCalledWith(
      expect.objectContaining({ objectsDeleted: 6, bytesDeleted: 60, details: expect.objectContaining({ folder_objects_deleted: 5 }) }),
      expect.anything(),
    );
    expect(erasures.addProgress).toHaveBeenCalledWith('e1', 's1', expect.objectContaining({ counts: expect.objectContaining({ objects: 6 }), bytes: 60 }), expect.anything());
  });

  it('logs a session where only objects without a row were left (a save killed before its insert)', async () => {
    const { eraseSession, deletionLog, erasures } = setup({ leftovers: { objects: 2, bytes: 8 } });
    await eraseSession({ kind: 'zoom_user_id', value: '42' });
    expect(deletionLog.record).toHaveBeenCalledWith(expect.objectContaining({ objectsDeleted: 2, bytesDeleted: 8, categories: ['media'] }), expect.anything());
    expect(erasures.addProgress).toHaveBeenCalledTimes(1);
  });

  it("takes the person out of the session's timeline — Zoom's events and the stream workers' — and counts both, and the redacted ones", async () => {
    const { eraseSession, deletionLog, erasures, participants } = setup({ timeline: { zoomEvents: 1, workerEvents: 4, redacted: 2 } });
    await eraseSession({ kind: 'user_name', value: 'Ann' });
    // By name, the name itself is looked for too (an event may carry it without a user id).
    expect(participants.eraseEventsOfUsers).toHaveBeenCalledWith('s1', ['42'], 'Ann', expect.anything());
    expect(deletionLog.record).toHaveBeenCalledWith(
      expect.objectContaining({ categories: ['events'], rowsDeleted: expect.objectContaining({ session_events: 5 }), details: expect.objectContaining({ session_events_redacted: 2 }) }),
      expect.anything(),
    );
    expect(erasures.addProgress).toHaveBeenCalledWith('e1', 's1', expect.objectContaining({ counts: expect.objectContaining({ zoom_events: 1, worker_events: 4, events_redacted: 2 }) }), expect.anything());
  });

  it('by user id, the timeline is searched by user id only', async () => {
    const { eraseSession, participants } = setup({});
    await eraseSession({ kind: 'zoom_user_id', value: '42' });
    expect(participants.eraseEventsOfUsers).toHaveBeenCalledWith('s1', ['42'], null, expect.anything());
  });
});
