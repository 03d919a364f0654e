import { DataSource } from 'typeorm';
import { NestExpressApplication } from '@nestjs/platform-express';

/** Row counts of the given tables, for "nothing changed" assertions. */
export async function tableCounts(app: NestExpressApplication, tables: string[]): Promise<Record<string, number>> {
  const ds = app.get(DataSource);
  const out: Record<string, number> = {};
  for (const t of tables) {
    const rows: Array<{ n: string }> = await ds.query(`SELECT count(*)::text AS n FROM "${t}"`);
    out[t] = Number(rows[0].n);
  }
  return out;
}

export async function query<T = Record<string, unknown>>(app: NestExpressApplication, sql: string, params: unknown[] = []): Promise<T[]> {
  return app.get(DataSource).query(sql, params);
}
