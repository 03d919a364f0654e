import { DataSource } from 'typeorm';
import { TokenCipher, TokenDecryptionError } from './token-cipher';

/** One sealed value of a row: where it is read from, how it is written back, what it is bound to. */
export interface SealedField {
  /** SQL expression reading the envelope (text; NULL when the row holds none), e.g. `secret_enc`. */
  read: string;
  /** SQL assignment storing the new envelope given as `param` (a `$n` placeholder), e.g. `(p) => \`secret_enc = ${p}\``. */
  write: (param: string) => string;
  /** The AAD the value was sealed with (its row and column), e.g. `webhook_endpoints:<id>:secret`. */
  aad: (id: string) => string;
}

/** A text column holding an envelope (or NULL). */
export const sealedColumn = (column: string, aad: (id: string) => string): SealedField => ({ read: column, write: (param) => `${column} = ${param}`, aad });

/**
 * A table whose rows hold values sealed with the token key ring, as its owning module
 * describes it. Its primary key is a uuid column `id`; rows where every field reads NULL
 * hold nothing sealed and are not counted. The SQL fragments are the owning module's
 * constants, never input.
 */
export interface SealedTable {
  /** What the report names (e.g. `webhook_endpoints`). */
  kind: string;
  table: string;
  fields: readonly SealedField[];
  /** A column naming the key that sealed the row (oauth_connections.key_id): set to the newest key with the values. */
  keyIdColumn?: string;
}

/** What one re-seal run did to one kind of sealed value (ids only, never values). */
export interface ResealReport {
  kind: string;
  /** The key everything is sealed with afterwards (the newest of the ring). */
  keyId: string;
  /** Rows holding a sealed value. */
  total: number;
  rewritten: number;
  alreadyCurrent: number;
  /** Rows with a value no key of the ring opens: left as they are. */
  failed: string[];
}

const BATCH = 100;
const FIRST_UUID = '00000000-0000-0000-0000-000000000000';

/** The row's values as locked: envelopes by field index (null: none), and its key id column. */
type LockedRow = Record<string, string | null>;

const fieldAlias = (i: number) => `f${i}`;
const KEY_ID_ALIAS = 'key_id';

/**
 * The new envelopes of a row that is not wholly on the newest key (by field index), or
 * undefined when it is. Every value is opened with its AAD, so a row counted current is
 * known to open too; one on an older key is sealed again with the newest key under the
 * same AAD, one on the newest key is left as it is. Throws TokenDecryptionError when a
 * value cannot be opened (nothing of the row is then written).
 */
export function resealedValues(cipher: TokenCipher, target: SealedTable, id: string, row: LockedRow): Map<number, string> | undefined {
  const current = cipher.currentKeyId;
  const resealed = new Map<number, string>();
  target.fields.forEach((field, i) => {
    const envelope = row[fieldAlias(i)];
    if (envelope === null || envelope === undefined) return;
    const aad = field.aad(id);
    const plain = cipher.decrypt(envelope, aad);
    if (TokenCipher.keyIdOf(envelope) !== current) resealed.set(i, cipher.encrypt(plain, aad));
  });
  const keyIdStale = target.keyIdColumn !== undefined && row[KEY_ID_ALIAS] !== current;
  return resealed.size === 0 && !keyIdStale ? undefined : resealed;
}

/**
 * Re-seals every sealed value of `target` with the newest key of the ring (key rotation:
 * after every process runs with `new,old`, before `old` is removed). Pages through the
 * ids in order, `batch` at a time; each row is read and rewritten in its own transaction
 * under a row lock, so a writer of that row either waits for it or is seen by it.
 * Idempotent: rows already on the newest key are not written. Rows with a value no key
 * of the ring opens are reported by id and left as they are. Written with plain SQL so
 * `updated_at` does not move (retention prunes some tables by it): re-sealing changes
 * nothing a reader sees.
 */
export async function resealRows(db: DataSource, cipher: TokenCipher, target: SealedTable, batch = BATCH): Promise<ResealReport> {
  const report: ResealReport = { kind: target.kind, keyId: cipher.currentKeyId, total: 0, rewritten: 0, alreadyCurrent: 0, failed: [] };
  const where = ` AND (${target.fields.map((f) => `(${f.read}) IS NOT NULL`).join(' OR ')})`;
  const columns = [
    ...target.fields.map((f, i) => `(${f.read}) AS "${fieldAlias(i)}"`),
    ...(target.keyIdColumn ? [`${target.keyIdColumn} AS "${KEY_ID_ALIAS}"`] : []),
  ].join(', ');
  const pageSql = `SELECT id FROM ${target.table} WHERE id > $1${where} ORDER BY id LIMIT $2`;
  const lockSql = `SELECT ${columns} FROM ${target.table} WHERE id = $1${where} FOR UPDATE`;

  let after = FIRST_UUID;
  for (;;) {
    const ids = (await db.query(pageSql, [after, batch])) as Array<{ id: string }>;
    if (ids.length === 0) break;
    after = ids[ids.length - 1].id;
    for (const { id } of ids) {
      await db.transaction(async (em) => {
        const [row] = (await em.query(lockSql, [id])) as LockedRow[];
        if (!row) return; // deleted (or its value cleared) meanwhile
        report.total++;
        let resealed: Map<number, string> | undefined;
        try {
          resealed = resealedValues(cipher, target, id, row);
        } catch (err) {
          if (!(err instanceof TokenDecryptionError)) throw err;
          report.failed.push(id);
          return;
        }
        if (!resealed) {
          report.alreadyCurrent++;
          return;
        }
        const params: unknown[] = [id];
        const sets = [...resealed].map(([i, envelope]) => target.fields[i].write(`$${params.push(envelope)}`));
        if (target.keyIdColumn) sets.push(`${target.keyIdColumn} = $${params.push(cipher.currentKeyId)}`);
        await em.query(`UPDATE ${target.table} SET ${sets.join(', ')} WHERE id = $1`, params);
        report.rewritten++;
      });
    }
  }
  return report;
}

/** A module's re-sealer of its sealed values (what `npm run tokens:reencrypt` runs, one per table). */
export type Resealer = (db: DataSource, cipher: TokenCipher, batch?: number) => Promise<ResealReport>;

/** The re-sealer of one table. */
export const resealerOf =
  (target: SealedTable): Resealer =>
  (db, cipher, batch) =>
    resealRows(db, cipher, target, batch);
