import { RunningStreams } from '../stream/running-streams';
import { fakeWorker, FleetRedis, fleetConfig, holdStream, QN, registrationJson, until } from './fleet-redis.spec-helper';
import { StreamWorkerPresence } from './stream-worker-presence';
import { requestDrain, TAKER_FRESH_MS } from './stream-workers.registry';

type Internals = {
  heartbeat(): Promise<void>;
  drainLoop: Promise<void> | null;
  handOverConfirmMs: number;
  handOverRetryMs: number;
};
const internals = (p: StreamWorkerPresence) => p as unknown as Internals;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StreamWorkerPresence', () => {
  const presences: StreamWorkerPresence[] = [];
  const timers: NodeJS.Timeout[] = [];
  afterEach(async () => {
    for (const t of timers.splice(0)) clearInterval(t);
    for (const p of presences.splice(0)) {
      await p.onApplicationShutdown();
      await internals(p).drainLoop;
    }
  });

  /** A worker of the fleet: its presence, its streams, its BullMQ worker, what it handed over. */
  const member = (fleet: FleetRedis, opts: { cap?: number; drainIntervalMs?: number; streams?: string[]; taken?: (id: string) => void } = {}) => {
    const running = new RunningStreams();
    const presence = new StreamWorkerPresence(fleetConfig(opts.cap ?? 100, opts.drainIntervalMs ?? 0), fleet.client(), running);
    presences.push(presence);
    const worker = fakeWorker();
    const handed: string[] = [];
    const hold = (id: string) =>
      holdStream(running, id, (stream) => {
        // What the processor does with a handed-over job: back to `wait`, admission released.
        handed.push(stream);
        fleet.queued(QN, stream);
        presence.released();
        opts.taken?.(stream);
      });
    for (const id of opts.streams ?? []) {
      hold(id);
      fleet.held(QN, id, `${worker.id}:${id}`);
    }
    return { presence, running, worker, handed, hold };
  };
  /** Admits the member's streams (as its processor did when it fetched them). */
  const admitAll = async (m: ReturnType<typeof member>) => {
    for (let i = 0; i < m.running.size; i++) expect((await m.presence.admit()).admit).toBe(true);
  };
  /** Another worker that only registers (no presence of its own): rewritten every 300 ms by the test while `beat` is true. */
  const registered = (fleet: FleetRedis, id: string, load: () => { running: number; cap?: number; draining?: boolean }) => {
    const write = () => void fleet.hash(`${QN}:workers`).set(id, registrationJson(id, load().running, load()));
    write();
    const state = { beat: true, write };
    timers.push(setInterval(() => state.beat && write(), 300));
    return state;
  };

  it('decisions taken at once see each other: of 30 concurrent fetches with one other worker, it takes its share (16)', async () => {
    const fleet = new FleetRedis();
    registered(fleet, 'b', () => ({ running: 0 }));
    for (let i = 0; i < 30; i++) fleet.held(QN, `j${i}`, 'bull-x:1');
    const { presence, worker } = member(fleet);
    presence.attach(worker);
    const results = await Promise.all(Array.from({ length: 30 }, () => presence.admit()));
    expect(results.filter((r) => r.admit)).toHaveLength(16);
    const refused = results.find((r) => !r.admit);
    expect(refused).toMatchObject({ admit: false, decision: { reason: 'above_share', share: 16 } });
    // A stream that ends frees a place.
    presence.released();
    expect((await presence.admit()).admit).toBe(true);
  });

  it('takes the stream when Redis cannot answer (an uneven spread loses nothing; an unrun stream does)', async () => {
    const fleet = new FleetRedis();
    registered(fleet, 'b', () => ({ running: 0 }));
    const { presence, worker } = member(fleet);
    presence.attach(worker);
    fleet.fail = true;
    expect((await presence.admit()).admit).toBe(true);
  });

  it('a drain: says it is draining before anything is handed over, stops fetching, hands its streams over one at a time, each checked to run elsewhere, then says it is drained', async () => {
    const fleet = new FleetRedis();
    let bTook = 0;
    registered(fleet, 'b', () => ({ running: 1 + bTook }));
    const seenAtHandOver: Array<boolean | undefined> = [];
    let selfId = '';
    const a = member(fleet, {
      streams: ['s1', 's2', 's3'],
      taken: (id) => {
        seenAtHandOver.push(fleet.registration(QN, selfId)?.draining);
        // b fetches it a moment later and keeps it.
        setTimeout(() => {
          fleet.held(QN, id, `bull-b:${id}`);
          bTook++;
        }, 30);
      },
    });
    selfId = a.presence.workerId;
    a.presence.attach(a.worker);
    await admitAll(a);
    await requestDrain(fleet.client(), QN, [selfId], true);
    await internals(a.presence).heartbeat();
    expect(a.presence.isDraining).toBe(true);
    // New streams go elsewhere while b can take them.
    expect(await a.presence.admit()).toMatchObject({ admit: false, decision: { reason: 'draining' } });
    await until(() => a.presence.isDrained, 8_000, 'drained');
    expect(a.worker.pause).toHaveBeenCalledWith(true);
    expect(a.handed).toEqual(['s1', 's2', 's3']);
    // Its registration said "draining" before the first stream left (the heartbeat that saw the request had written draining:false).
    expect(seenAtHandOver).toEqual([true, true, true]);
    expect(a.running.size).toBe(0);
    expect(fleet.registration(QN, selfId)).toMatchObject({ draining: true, running: 0, handingOver: 0 });
    // Cancelled: it takes streams again.
    fleet.hashes.get(`${QN}:drain`)!.delete(selfId);
    await internals(a.presence).heartbeat();
    expect(a.presence.isDraining).toBe(false);
    expect(a.worker.resume).toHaveBeenCalled();
  });

  it('a heartbeat deletes drain requests left by workers that are gone (crashed while draining), and keeps those of live workers', async () => {
    const fleet = new FleetRedis();
    registered(fleet, 'b', () => ({ running: 1 }));
    await requestDrain(fleet.client(), QN, ['b', 'crashed-worker'], true);
    const { presence, worker } = member(fleet);
    presence.attach(worker);
    await internals(presence).heartbeat();
    expect([...fleet.hashes.get(`${QN}:drain`)!.keys()]).toEqual(['b']);
  });

  it('draining every worker of a host at once (`worker:drain -- <SPOOL_HOST_ID>`): nobody hands a stream to another draining worker; both keep theirs and keep fetching', async () => {
    const fleet = new FleetRedis();
    const a = member(fleet, { streams: ['sa'] });
    const b = member(fleet, { streams: ['sb'] });
    a.presence.attach(a.worker);
    b.presence.attach(b.worker);
    await admitAll(a);
    await admitAll(b);
    await until(() => fleet.registration(QN, a.presence.workerId) !== undefined && fleet.registration(QN, b.presence.workerId) !== undefined, 2_000, 'both registered');
    // One HSET flags both; each sees its own flag at its next heartbeat, a's first.
    await requestDrain(fleet.client(), QN, [a.presence.workerId, b.presence.workerId], true);
    await internals(a.presence).heartbeat();
    await sleep(50);
    await internals(b.presence).heartbeat();
    await sleep(1_500);
    expect({ a: a.handed, b: b.handed }).toEqual({ a: [], b: [] });
    expect(fleet.lists.get(`${QN}:wait`) ?? []).toEqual([]);
    for (const m of [a, b]) {
      expect(m.presence.isDraining).toBe(true);
      expect(m.presence.isDrained).toBe(false);
      // Still fetching: a stream nobody else can take is taken even by a draining worker.
      expect(m.worker.pause).not.toHaveBeenCalled();
      expect(fleet.registration(QN, m.presence.workerId)).toMatchObject({ draining: true, running: 1 });
    }
    expect(await a.presence.admit()).toMatchObject({ admit: true });
  });

  it('the only other worker has one free place: it hands one stream over, and no second until that worker is seen to have room again', async () => {
    const fleet = new FleetRedis();
    let bTook = 0;
    const b = registered(fleet, 'b', () => ({ running: 99 + bTook }));
    const a = member(fleet, {
      streams: ['s1', 's2'],
      taken: (id) =>
        setTimeout(() => {
          // b takes it; its registration (running 99) is rewritten only later.
          b.beat = false;
          fleet.held(QN, id, `bull-b:${id}`);
          bTook++;
        }, 30),
    });
    a.presence.attach(a.worker);
    await admitAll(a);
    await requestDrain(fleet.client(), QN, [a.presence.workerId], true);
    await internals(a.presence).heartbeat();
    await until(() => a.handed.length === 1, 3_000, 'the first hand-over');
    await sleep(1_500);
    // b's registration still says 99 of 100: the place went to s1.
    expect(a.handed).toEqual(['s1']);
    // b's heartbeat: full. Nobody can take streams: a keeps s2 and fetches again.
    b.write();
    b.beat = true;
    await sleep(1_500);
    expect(a.handed).toEqual(['s1']);
    expect(a.running.ids()).toEqual(['s2']);
    expect(a.worker.pause).toHaveBeenCalled();
    expect(a.worker.resume).toHaveBeenCalled();
    expect(a.presence.isDrained).toBe(false);
  });

  it('a stream handed over that no worker takes: the drain stops handing over, fetches again and takes it back; it never says drained meanwhile', async () => {
    const fleet = new FleetRedis();
    // b says it has room but never fetches (its registration is a heartbeat old; it is full in fact).
    registered(fleet, 'b', () => ({ running: 10 }));
    const a = member(fleet, { streams: ['s1'] });
    internals(a.presence).handOverConfirmMs = 300;
    internals(a.presence).handOverRetryMs = 60_000;
    a.presence.attach(a.worker);
    await admitAll(a);
    await requestDrain(fleet.client(), QN, [a.presence.workerId], true);
    await internals(a.presence).heartbeat();
    await until(() => a.handed.length === 1, 3_000, 'the hand-over');
    await until(() => a.worker.resume.mock.calls.length > 0, 3_000, 'fetching again');
    expect(fleet.lists.get(`${QN}:wait`)).toEqual(['s1']);
    expect(a.presence.isDrained).toBe(false);
    expect(fleet.registration(QN, a.presence.workerId)).toMatchObject({ draining: true, running: 0, handingOver: 1 });
    // Its own fetch gets it: taken regardless of the share (b still looks like a taker).
    expect(await a.presence.admit({ jobId: 's1' })).toMatchObject({ admit: true });
    fleet.held(QN, 's1', `${a.worker.id}:9`);
    a.hold('s1');
    await until(() => fleet.registration(QN, a.presence.workerId)?.handingOver === 0, 3_000, 'the stream running again');
    expect(a.presence.isDrained).toBe(false);
    expect(fleet.registration(QN, a.presence.workerId)).toMatchObject({ draining: true, running: 1 });
  });

  it('a crashed worker whose registration is older than TAKER_FRESH_MS (but still listed) is no place for streams: the survivor takes all of its streams at once', async () => {
    const fleet = new FleetRedis();
    const b = member(fleet, { cap: 20 });
    b.presence.attach(b.worker);
    for (let i = 0; i < 10; i++) expect((await b.presence.admit()).admit).toBe(true);
    // a held 10 of cap 20 and was SIGKILLed: its last heartbeat was 3 s ago, its registration stays listed for REGISTRATION_TTL_MS, its 10 jobs are back in wait.
    fleet.hash(`${QN}:workers`).set('a', registrationJson('a', 10, { cap: 20, at: Date.now() - 3_000 }));
    for (let i = 0; i < 10; i++) fleet.held(QN, `b${i}`, 'bull-b:1');
    for (let i = 0; i < 10; i++) fleet.queued(QN, `a${i}`);
    const decisions = await Promise.all(Array.from({ length: 10 }, () => b.presence.admit()));
    // Before, it counted for 10 s: b took 1 (share ceil(20 / 2) + 1 = 11) and refused 9 as above its share.
    expect(decisions.filter((d) => d.admit)).toHaveLength(10);
    expect(TAKER_FRESH_MS).toBeLessThan(3_000);
  });

  it('SIGTERM: the registration says "draining" before any stream is handed back, so the others take them all at once', async () => {
    const fleet = new FleetRedis();
    const seen: Array<boolean | undefined> = [];
    let aId = '';
    const b = member(fleet, { cap: 20 });
    b.presence.attach(b.worker);
    for (let i = 0; i < 10; i++) expect((await b.presence.admit()).admit).toBe(true);
    const a = member(fleet, { cap: 20, streams: Array.from({ length: 10 }, (_, i) => `a${i}`), taken: () => seen.push(fleet.registration(QN, aId)?.draining) });
    aId = a.presence.workerId;
    await admitAll(a); // before its heartbeat: as when it fetched them, alone
    a.presence.attach(a.worker);
    await until(() => fleet.registration(QN, aId) !== undefined, 2_000, 'a registered');
    await a.running.beforeApplicationShutdown();
    expect(seen).toHaveLength(10);
    expect(seen.every((d) => d === true)).toBe(true);
    // Its heartbeats during the shutdown keep saying so.
    await internals(a.presence).heartbeat();
    expect(fleet.registration(QN, aId)).toMatchObject({ draining: true, running: 0 });
    for (let i = 0; i < 10; i++) fleet.held(QN, `b${i}`, 'bull-b:1');
    const decisions = await Promise.all(Array.from({ length: 10 }, () => b.presence.admit()));
    expect(decisions.filter((d) => d.admit)).toHaveLength(10);
  });

  it('a starving job (put back too often) is taken above the share, but never above the cap', async () => {
    const fleet = new FleetRedis();
    registered(fleet, 'b', () => ({ running: 0 }));
    const a = member(fleet, { cap: 5 });
    a.presence.attach(a.worker);
    for (let i = 0; i < 4; i++) fleet.queued(QN, `j${i}`);
    // Share: ceil(4 / 2) + 1 = 3.
    for (let i = 0; i < 3; i++) expect(await a.presence.admit()).toMatchObject({ admit: true });
    expect(await a.presence.admit()).toMatchObject({ admit: false, decision: { reason: 'above_share', share: 3 } });
    expect(await a.presence.admit({ starving: true })).toMatchObject({ admit: true });
    expect(await a.presence.admit({ starving: true })).toMatchObject({ admit: true });
    expect(await a.presence.admit({ starving: true })).toMatchObject({ admit: false, decision: { reason: 'at_cap' } });
  });
});
