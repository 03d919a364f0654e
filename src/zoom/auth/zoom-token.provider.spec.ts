import { Logger } from '@nestjs/common';
import type { MetricsService } from '../../common/metrics/metrics.service';
import { ReauthorizationRequiredError, ZoomTransportError } from '../zoom-errors';
import type { RefreshLease } from './refresh-lease';
import { RefreshedPair, UserGrant, UserGrantStore } from './user-grant-store';
import { ZoomGrantRefusedError, ZoomOAuthClient } from './zoom-oauth.client';
import { ZoomTokenProvider } from './zoom-token.provider';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Zoom: refresh tokens are single use (rotation); a spent one is 400 invalid_grant 4735. */
class FakeZoom {
  liveRt = 'rt1';
  n = 1;
  calls: string[] = [];
  /** Runs while a spent token's refusal is on its way back (another process acting meanwhile). */
  beforeRefusal?: () => Promise<void>;
  async refresh(rt: string): Promise<RefreshedPair> {
    this.calls.push(rt);
    if (rt !== this.liveRt) {
      await this.beforeRefusal?.();
      throw new ZoomGrantRefusedError('token refresh', 400, 4735, 'Invalid Token!');
    }
    this.n++;
    this.liveRt = `rt${this.n}`;
    return { accessToken: `at${this.n}`, refreshToken: this.liveRt, expiresInSec: 3600, scope: '', issuedAt: Date.now() };
  }
}

/**
 * The Redis lease of every process. `lapse()` is what a holder whose renewals stopped
 * reaching Redis sees: the key expires for the others, and the holder learns it is lost.
 * (acquire/release are the lease without renewal.)
 */
class FakeLease {
  readonly ttlMs = 1000;
  private holder: { token: string; ctrl: AbortController } | null = null;
  async hold() {
    if (this.holder) return null;
    const h = { token: Math.random().toString(36), ctrl: new AbortController() };
    this.holder = h;
    return {
      lost: h.ctrl.signal,
      release: async () => {
        if (this.holder === h) this.holder = null;
      },
    };
  }
  async acquire(): Promise<string | null> {
    return (await this.hold()) ? this.holder!.token : null;
  }
  async release(_id: string, token: string): Promise<void> {
    if (this.holder?.token === token) this.holder = null;
  }
  lapse(): void {
    this.holder?.ctrl.abort();
    this.holder = null;
  }
}

/** The oauth_connections row (and the stash) every process shares. */
class Row {
  version = 1;
  at = 'at1';
  rt = 'rt1';
  active = true;
  expiresAt = new Date(Date.now() + 60_000); // inside the refresh window
  deleted = false;
  marked: string[] = [];
  stash: { version: number; pair: RefreshedPair } | null = null;
}

/** One process's view of the vault; saves are conditional on the version, as storeRefreshed's. */
class Store extends UserGrantStore {
  saveGate?: Promise<void>;
  saveStarted = 0;
  saveFails = false;

  constructor(private readonly row: Row) {
    super();
  }

  private grant(): UserGrant {
    const snap = { ...this.row };
    return { connectionId: 'c1', active: snap.active, expiresAt: snap.expiresAt, version: snap.version, accessToken: () => snap.at, refreshToken: () => snap.rt };
  }
  async find() {
    return this.row.deleted ? null : this.grant();
  }
  notFound() {
    return new Error('connection c1 does not exist');
  }
  async saveRefreshed(g: UserGrant, t: RefreshedPair): Promise<UserGrant | null> {
    this.saveStarted++;
    await this.saveGate;
    if (this.saveFails) throw new Error('database unavailable');
    if (this.row.deleted) return null;
    if (this.row.version === g.version) {
      const expiresAt = new Date((t.issuedAt ?? Date.now()) + t.expiresInSec * 1000);
      Object.assign(this.row, { version: g.version + 1, at: t.accessToken, rt: t.refreshToken, active: true, expiresAt });
    }
    return this.grant();
  }
  async markReauthorizationRequired(_id: string, reason: string) {
    this.row.active = false;
    this.row.marked.push(reason);
  }
  async stashRefreshed(g: UserGrant, t: RefreshedPair) {
    this.row.stash = { version: g.version, pair: t };
  }
  async findStashed(g: UserGrant) {
    return this.row.stash?.version === g.version ? this.row.stash.pair : null;
  }
  async clearStashed() {
    this.row.stash = null;
  }
}

const metrics = { counter: () => ({ inc: () => undefined }) } as unknown as MetricsService;
const provider = (store: Store, zoom: FakeZoom, lease: FakeLease) =>
  new ZoomTokenProvider(store, zoom as unknown as ZoomOAuthClient, lease as unknown as RefreshLease, metrics);

describe('ZoomTokenProvider: a refresh that loses its lease never loses the grant', () => {
  let errors: jest.SpyInstance;
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('the pair Zoom answered is stashed before it is saved, and the stash is cleared once it is stored', async () => {
    const row = new Row();
    const store = new Store(row);
    let release!: () => void;
    store.saveGate = new Promise((r) => (release = r));
    const pa = provider(store, new FakeZoom(), new FakeLease()).getAccessToken('c1');
    await until(() => store.saveStarted > 0, 'the save');
    expect(row.stash).toMatchObject({ version: 1, pair: { refreshToken: 'rt2' } });
    release();
    await expect(pa).resolves.toBe('at2');
    expect(row.stash).toBeNull();
    expect(row).toMatchObject({ version: 2, rt: 'rt2', active: true });
  });

  it('lease lost mid-save: the next process stores the stashed pair instead of sending the spent refresh token', async () => {
    const zoom = new FakeZoom();
    const lease = new FakeLease();
    const row = new Row();
    const storeA = new Store(row);
    let release!: () => void;
    storeA.saveGate = new Promise((r) => (release = r));
    const pa = provider(storeA, zoom, lease).getAccessToken('c1');
    await until(() => storeA.saveStarted > 0, "A's save"); // Zoom rotated rt1 -> rt2; A's save hangs (a slow database)
    lease.lapse(); // A's renewals stopped reaching Redis: the key expired

    await expect(provider(new Store(row), zoom, lease).getAccessToken('c1')).resolves.toBe('at2');
    expect(zoom.calls).toEqual(['rt1']); // the spent rt1 never went to Zoom again
    expect(row.marked).toEqual([]); // no reauthorization_required for a live grant
    release();
    await expect(pa).resolves.toBe('at2'); // A's late save lost to the stored version, and returns it
    expect(row).toMatchObject({ version: 2, rt: 'rt2', active: true, stash: null });
  });

  it('lease lost while the save fails: the holder stops, and the grant lives on through the stash', async () => {
    const zoom = new FakeZoom();
    const lease = new FakeLease();
    const row = new Row();
    const storeA = new Store(row);
    storeA.saveFails = true;
    let release!: () => void;
    storeA.saveGate = new Promise((r) => (release = r));
    const pa = provider(storeA, zoom, lease).getAccessToken('c1').catch((e: unknown) => e);
    await until(() => storeA.saveStarted > 0, "A's save");
    lease.lapse();
    release();
    expect(await pa).toBeInstanceOf(ZoomTransportError); // retryable: it stopped, the pair stays stashed
    expect(storeA.saveStarted).toBe(1); // no save without the lease
    expect(row.stash?.pair.refreshToken).toBe('rt2');

    await expect(provider(new Store(row), zoom, lease).getAccessToken('c1')).resolves.toBe('at2');
    expect(zoom.calls).toEqual(['rt1']);
    expect(row).toMatchObject({ version: 2, rt: 'rt2', active: true, stash: null, marked: [] });
  });

  it('a refusal of a token another refresh rotated meanwhile stores that refresh’s stashed pair instead of marking the grant', async () => {
    const zoom = new FakeZoom();
    zoom.liveRt = 'rt2'; // A rotated rt1 at Zoom; B read the row before A stashed the pair
    const row = new Row();
    zoom.beforeRefusal = async () => {
      row.stash = { version: 1, pair: { accessToken: 'at2', refreshToken: 'rt2', expiresInSec: 3600, scope: '', issuedAt: Date.now() } };
    };
    await expect(provider(new Store(row), zoom, new FakeLease()).getAccessToken('c1')).resolves.toBe('at2');
    expect(row).toMatchObject({ version: 2, rt: 'rt2', active: true, marked: [], stash: null });
  });

  it('a grant marked reauthorization_required while the live pair sat in the stash is restored from it', async () => {
    const zoom = new FakeZoom();
    zoom.liveRt = 'rt2';
    const row = new Row();
    row.active = false;
    row.marked.push('Zoom refused the refresh token (HTTP 400, code 4735: Invalid Token!)');
    row.stash = { version: 1, pair: { accessToken: 'at2', refreshToken: 'rt2', expiresInSec: 3600, scope: '', issuedAt: Date.now() } };
    const p = provider(new Store(row), zoom, new FakeLease());
    await expect(p.getAccessToken('c1')).resolves.toBe('at2');
    expect(zoom.calls).toEqual([]);
    expect(row).toMatchObject({ active: true, version: 2, rt: 'rt2', stash: null });
  });

  it('without a stash, a refused grant still needs reauthorization, and later calls fail fast', async () => {
    const zoom = new FakeZoom();
    zoom.liveRt = 'rt-other';
    const row = new Row();
    const p = provider(new Store(row), zoom, new FakeLease());
    await expect(p.getAccessToken('c1')).rejects.toBeInstanceOf(ReauthorizationRequiredError);
    expect(row.marked).toHaveLength(1);
    await expect(p.getAccessToken('c1')).rejects.toBeInstanceOf(ReauthorizationRequiredError);
    expect(zoom.calls).toHaveLength(1);
  });

  it('a stashed pair whose access token ran out while it waited is stored, then refreshed with its refresh token', async () => {
    const zoom = new FakeZoom();
    zoom.n = 2;
    zoom.liveRt = 'rt2';
    const row = new Row();
    // Stashed two hours ago (Postgres was away): its access token expired an hour ago.
    row.stash = { version: 1, pair: { accessToken: 'at2', refreshToken: 'rt2', expiresInSec: 3600, scope: '', issuedAt: Date.now() - 2 * 3600_000 } };
    await expect(provider(new Store(row), zoom, new FakeLease()).getAccessToken('c1')).resolves.toBe('at3');
    expect(zoom.calls).toEqual(['rt2']);
    expect(row).toMatchObject({ version: 3, rt: 'rt3', stash: null });
    expect(row.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
  });

  it('a refresh that ends after its connection was deleted fails as not found, keeps nothing and logs no error', async () => {
    const row = new Row();
    const store = new Store(row);
    let release!: () => void;
    store.saveGate = new Promise((r) => (release = r));
    const pa = provider(store, new FakeZoom(), new FakeLease()).getAccessToken('c1').catch((e: unknown) => e);
    await until(() => store.saveStarted > 0, 'the save');
    row.deleted = true; // app_deauthorized, or a disconnect, meanwhile
    release();
    expect(await pa).toMatchObject({ message: 'connection c1 does not exist' });
    expect(store.saveStarted).toBe(1); // not retried: it will not come back
    expect(row.stash).toBeNull();
    expect(errors).not.toHaveBeenCalled();
  });

  it('refreshIfDue: a connection deleted meanwhile is nothing to refresh', async () => {
    const row = new Row();
    row.deleted = true;
    await expect(provider(new Store(row), new FakeZoom(), new FakeLease()).refreshIfDue('c1')).resolves.toBe(false);
  });
});
