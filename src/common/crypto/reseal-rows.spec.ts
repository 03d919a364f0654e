import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { resealedValues, resealRows, sealedColumn, SealedTable } from './reseal-rows';
import { TokenCipher, TokenDecryptionError } from './token-cipher';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const oldRing = new TokenCipher([k1]);
const rotated = new TokenCipher([k2, k1]);
const onlyNew = new TokenCipher([k2]);

const aadA = (id: string) => `things:${id}:a`;
const aadB = (id: string) => `things:${id}:b`;
const TARGET: SealedTable = { kind: 'things', table: 'things', fields: [sealedColumn('a_enc', aadA), sealedColumn('b_enc', aadB)], keyIdColumn: 'key_id' };

interface Row {
  a_enc: string | null;
  b_enc: string | null;
  key_id: string;
}

/**
 * Postgres as the helper uses it, for one table: the id page, the row lock, the update.
 * It checks the SQL it is given has the shape it answers for.
 */
class FakeDb {
  readonly rows = new Map<string, Row>();
  readonly pages: unknown[][] = [];
  readonly locks: string[] = [];
  readonly updates: Array<{ sql: string; params: unknown[] }> = [];
  /** Runs when a row is about to be locked (a concurrent writer). */
  beforeLock?: (id: string) => void;

  private holdsSealed = (r: Row | undefined): r is Row => r !== undefined && (r.a_enc !== null || r.b_enc !== null);

  query = async (sql: string, params: unknown[]): Promise<unknown> => {
    expect(sql).toBe('SELECT id FROM things WHERE id > $1 AND ((a_enc) IS NOT NULL OR (b_enc) IS NOT NULL) ORDER BY id LIMIT $2');
    this.pages.push(params);
    const [after, limit] = params as [string, number];
    return [...this.rows.keys()]
      .filter((id) => id > after && this.holdsSealed(this.rows.get(id)))
      .sort()
      .slice(0, limit)
      .map((id) => ({ id }));
  };

  transaction = async <T>(run: (em: { query: (sql: string, params: unknown[]) => Promise<unknown> }) => Promise<T>): Promise<T> =>
    run({
      query: async (sql, params) => {
        const id = params[0] as string;
        if (sql.endsWith('FOR UPDATE')) {
          expect(sql).toBe('SELECT (a_enc) AS "f0", (b_enc) AS "f1", key_id AS "key_id" FROM things WHERE id = $1 AND ((a_enc) IS NOT NULL OR (b_enc) IS NOT NULL) FOR UPDATE');
          this.beforeLock?.(id);
          this.locks.push(id);
          const r = this.rows.get(id);
          return this.holdsSealed(r) ? [{ f0: r.a_enc, f1: r.b_enc, key_id: r.key_id }] : [];
        }
        expect(sql).toMatch(/^UPDATE things SET .+ WHERE id = \$1$/);
        this.updates.push({ sql, params });
        const row = this.rows.get(id)!;
        for (const [, column, n] of sql.matchAll(/(\w+) = \$(\d+)/g)) if (column !== 'id') (row as unknown as Record<string, unknown>)[column] = params[Number(n) - 1];
        return [];
      },
    });

  add(values: { a?: string | null; b?: string | null }, cipher = oldRing, id = randomUUID()): string {
    this.rows.set(id, {
      a_enc: values.a === undefined || values.a === null ? null : cipher.encrypt(values.a, aadA(id)),
      b_enc: values.b === undefined || values.b === null ? null : cipher.encrypt(values.b, aadB(id)),
      key_id: cipher.currentKeyId,
    });
    return id;
  }

  get asDataSource(): DataSource {
    return this as unknown as DataSource;
  }
}

describe('resealedValues (one locked row)', () => {
  const id = randomUUID();
  const row = (a: string | null, b: string | null, keyId: string) => ({ f0: a, f1: b, key_id: keyId });

  it('leaves a row wholly on the newest key alone', () => {
    expect(resealedValues(rotated, TARGET, id, row(rotated.encrypt('x', aadA(id)), null, 'k2'))).toBeUndefined();
  });

  it('re-seals only the values on an older key, under the same AAD, skipping NULLs', () => {
    const currentA = rotated.encrypt('a', aadA(id));
    const out = resealedValues(rotated, TARGET, id, row(currentA, oldRing.encrypt('b', aadB(id)), 'k1'))!;
    expect([...out.keys()]).toEqual([1]);
    expect(TokenCipher.keyIdOf(out.get(1)!)).toBe('k2');
    expect(onlyNew.decrypt(out.get(1)!, aadB(id))).toBe('b');
    expect(() => onlyNew.decrypt(out.get(1)!, aadA(id))).toThrow(TokenDecryptionError);
    expect([...resealedValues(rotated, TARGET, id, row(null, oldRing.encrypt('b', aadB(id)), 'k1'))!.keys()]).toEqual([1]);
  });

  it('rewrites a key id column that lags behind its values (no value to re-seal)', () => {
    const out = resealedValues(rotated, TARGET, id, row(rotated.encrypt('a', aadA(id)), rotated.encrypt('b', aadB(id)), 'k1'));
    expect(out).toEqual(new Map());
    const noKeyColumn = { ...TARGET, keyIdColumn: undefined };
    expect(resealedValues(rotated, noKeyColumn, id, row(rotated.encrypt('a', aadA(id)), null, 'k1'))).toBeUndefined();
  });

  it('opens a value already on the newest key too: one that does not open is not counted current', () => {
    const sameIdOtherKey = new TokenCipher([{ id: 'k2', key: randomBytes(32) }]).encrypt('a', aadA(id));
    expect(() => resealedValues(rotated, TARGET, id, row(sameIdOtherKey, null, 'k2'))).toThrow(TokenDecryptionError);
  });

  it('throws TokenDecryptionError for a value no key opens, or one bound elsewhere', () => {
    const unknownKey = new TokenCipher([{ id: 'k0', key: randomBytes(32) }]).encrypt('a', aadA(id));
    expect(() => resealedValues(rotated, TARGET, id, row(unknownKey, null, 'k0'))).toThrow(TokenDecryptionError);
    const otherRow = oldRing.encrypt('a', aadA(randomUUID()));
    expect(() => resealedValues(rotated, TARGET, id, row(otherRow, null, 'k1'))).toThrow(TokenDecryptionError);
    expect(() => resealedValues(rotated, TARGET, id, row('not-an-envelope', null, 'k1'))).toThrow(TokenDecryptionError);
  });
});

describe('resealRows (a table, page by page)', () => {
  it('re-seals every row on an older key, page by page in id order, and a second run finds everything current', async () => {
    const db = new FakeDb();
    const plain = new Map<string, { a: string | null; b: string | null }>();
    for (let i = 0; i < 7; i++) {
      const values = { a: `a${i}`, b: i % 2 === 0 ? `b${i}` : null };
      plain.set(db.add(values), values);
    }
    const current = db.add({ a: 'on-k2', b: 'on-k2' }, rotated);
    plain.set(current, { a: 'on-k2', b: 'on-k2' });
    db.add({ a: null, b: null }); // holds nothing sealed: not counted

    const report = await resealRows(db.asDataSource, rotated, TARGET, 3);
    expect(report).toEqual({ kind: 'things', keyId: 'k2', total: 8, rewritten: 7, alreadyCurrent: 1, failed: [] });
    // Pages of 3 from the lowest uuid, each after the last id of the one before.
    const ids = [...plain.keys()].sort();
    expect(db.pages).toEqual([
      ['00000000-0000-0000-0000-000000000000', 3],
      [ids[2], 3],
      [ids[5], 3],
      [ids[7], 3],
    ]);
    expect(db.locks).toEqual(ids);
    for (const [id, values] of plain) {
      const row = db.rows.get(id)!;
      expect(row.key_id).toBe('k2');
      expect(row.a_enc && onlyNew.decrypt(row.a_enc, aadA(id))).toBe(values.a);
      expect(row.b_enc && onlyNew.decrypt(row.b_enc, aadB(id))).toBe(values.b);
    }
    // The row already on k2 was not written; a NULL stays NULL.
    expect(db.updates.map((u) => u.params[0])).not.toContain(current);
    const oddRow = ids.find((id) => plain.get(id)!.b === null)!;
    expect(db.updates.find((u) => u.params[0] === oddRow)).toEqual({ sql: 'UPDATE things SET a_enc = $2, key_id = $3 WHERE id = $1', params: [oddRow, expect.any(String), 'k2'] });

    const writes = db.updates.length;
    const again = await resealRows(db.asDataSource, rotated, TARGET, 3);
    expect(again).toEqual({ kind: 'things', keyId: 'k2', total: 8, rewritten: 0, alreadyCurrent: 8, failed: [] });
    expect(db.updates).toHaveLength(writes);
  });

  it('reports rows it cannot open by id, writes nothing of them, and carries on', async () => {
    const db = new FakeDb();
    const good = db.add({ a: 'fine', b: 'fine' });
    const lost = db.add({ a: 'lost' }, new TokenCipher([{ id: 'k0', key: randomBytes(32) }]));
    // One value opens, the other does not: the row is not half rewritten.
    const half = db.add({ a: 'ok', b: 'x' });
    db.rows.get(half)!.b_enc = 'v1.k1.garbage.garbage.garbage';
    const before = { ...db.rows.get(half)! };

    const report = await resealRows(db.asDataSource, rotated, TARGET);
    expect(report.rewritten).toBe(1);
    expect(report.failed.sort()).toEqual([lost, half].sort());
    expect(db.rows.get(half)).toEqual(before);
    expect(db.updates.map((u) => u.params[0])).toEqual([good]);
    expect(JSON.stringify(report)).not.toMatch(/fine|lost|ok/);
  });

  it('skips a row deleted, or whose value was cleared, between its page and its lock', async () => {
    const db = new FakeDb();
    const gone = db.add({ a: 'gone' });
    const cleared = db.add({ a: 'cleared' });
    const kept = db.add({ a: 'kept' });
    db.beforeLock = (id) => {
      if (id === gone) db.rows.delete(id);
      if (id === cleared) db.rows.get(id)!.a_enc = null;
    };
    const report = await resealRows(db.asDataSource, rotated, TARGET);
    expect(report).toMatchObject({ total: 1, rewritten: 1, failed: [] });
    expect(db.updates.map((u) => u.params[0])).toEqual([kept]);
  });

  it('lets an error that is not about a key propagate (the database went away)', async () => {
    const db = new FakeDb();
    db.add({ a: 'x' });
    db.beforeLock = () => {
      throw new Error('Connection terminated');
    };
    await expect(resealRows(db.asDataSource, rotated, TARGET)).rejects.toThrow('Connection terminated');
  });
});
