import { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { Cursor } from './pagination';

/** A row of a keyset page with its exact position (created_at to the microsecond, id). */
export interface Keyed<T> {
  row: T;
  createdAt: string;
  id: string;
}

/**
 * Runs `qb` as one keyset page, newest first over (created_at, id): up to `limit + 1`
 * rows. Positions keep Postgres' microseconds: a cursor cut to JS milliseconds would skip
 * rows created within the same millisecond as a page's last row, which a busy delivery
 * log has plenty of. The query must have no joins (raw rows line up with entities).
 */
export async function keysetPage<T extends ObjectLiteral>(qb: SelectQueryBuilder<T>, alias: string, limit: number, cursor?: Cursor): Promise<Array<Keyed<T>>> {
  qb.addSelect(`to_char(${alias}.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, 'keyset_created_at')
    .orderBy(`${alias}.created_at`, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    .limit(limit + 1);
  if (cursor) qb.andWhere(`(${alias}.created_at, ${alias}.id) < (CAST(:keysetAt AS timestamptz), CAST(:keysetId AS uuid))`, { keysetAt: cursor.createdAt, keysetId: cursor.id });
  const { entities, raw } = await qb.getRawAndEntities<{ keyset_created_at: string }>();
  return entities.map((row, i) => ({ row, createdAt: raw[i].keyset_created_at, id: (row as unknown as { id: string }).id }));
}

/** The cursor after `last`, in the format common/http/pagination's decodeCursor reads. */
export function keysetCursor(last: { createdAt: string; id: string }): string {
  return Buffer.from(JSON.stringify({ c: last.createdAt, i: last.id })).toString('base64url');
}

/** A page `{data, next_cursor}` from `limit + 1` keyed rows. */
export function keysetToPage<T, V>(rows: Array<Keyed<T>>, limit: number, view: (r: T) => V): { data: V[]; next_cursor: string | null } {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map((k) => view(k.row)), next_cursor: hasMore && last ? keysetCursor(last) : null };
}
