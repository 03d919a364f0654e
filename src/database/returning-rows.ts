/**
 * The rows of an `UPDATE … RETURNING` or `DELETE … RETURNING` run through `query()`:
 * TypeORM's postgres driver answers those two commands with `[rows, rowCount]` rather
 * than the rows (INSERT, SELECT and CTEs ending in one answer the rows).
 */
export async function returningRows<T>(result: Promise<unknown>): Promise<T[]> {
  const r = await result;
  if (Array.isArray(r) && r.length === 2 && Array.isArray(r[0]) && typeof r[1] === 'number') return r[0] as T[];
  return r as T[];
}
