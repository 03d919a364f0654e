import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { RoomDispatchStatus } from '../src/modules/zoom-rooms/entities/room-dispatch.entity';
import { RoomDispatchesRepository } from '../src/modules/zoom-rooms/repositories/room-dispatches.repository';

/** The zoom-rooms repository against the real, migrated Postgres (its unique partial index included). */
describe('zoom-rooms repository (Postgres)', () => {
  let ds: DataSource;
  let rows: RoomDispatchesRepository;

  const dispatch = (roomId: string, meetingNumber: string, status = RoomDispatchStatus.Queued) => ({
    id: randomUUID(),
    roomId,
    roomName: null,
    meetingNumber,
    passcodeEnc: null,
    sessionId: null,
    source: 'api' as const,
    status,
    leaveAfterSeconds: 30,
  });

  beforeAll(async () => {
    ds = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL ?? '', 2)).initialize();
    rows = new RoomDispatchesRepository(ds);
  });

  afterAll(async () => {
    await ds.destroy();
  });

  it('insertUnlessActive inserts one active dispatch per room and meeting, and again once it finished', async () => {
    const room = `room-${randomUUID().slice(0, 8)}`;
    const first = dispatch(room, '81234567890');
    expect(await rows.insertUnlessActive(first)).toBe(true);
    expect(await rows.insertUnlessActive(dispatch(room, '81234567890'))).toBe(false);
    expect(await rows.insertUnlessActive(dispatch(room, '89999999999'))).toBe(true); // another meeting
    await ds.query(`UPDATE room_dispatches SET status = 'left' WHERE id = $1`, [first.id]);
    expect(await rows.insertUnlessActive(dispatch(room, '81234567890'))).toBe(true);
    const n = await ds.query(`SELECT count(*)::int AS n FROM room_dispatches WHERE room_id = $1`, [room]);
    expect(n[0].n).toBe(3);
  });

  it('countByStatus counts every dispatch per status', async () => {
    const before = await rows.countByStatus();
    const room = `room-${randomUUID().slice(0, 8)}`;
    await rows.insertUnlessActive(dispatch(room, '81234567891', RoomDispatchStatus.Failed));
    await rows.insertUnlessActive(dispatch(room, '81234567892', RoomDispatchStatus.Failed));
    await rows.insertUnlessActive(dispatch(room, '81234567893', RoomDispatchStatus.Joined));
    const after = await rows.countByStatus();
    expect((after.get(RoomDispatchStatus.Failed) ?? 0) - (before.get(RoomDispatchStatus.Failed) ?? 0)).toBe(2);
    expect((after.get(RoomDispatchStatus.Joined) ?? 0) - (before.get(RoomDispatchStatus.Joined) ?? 0)).toBe(1);
    expect([...after.values()].every((v) => Number.isInteger(v) && v > 0)).toBe(true);
  });
});
