/** Postgres text cannot hold NUL; names are also length-capped. Nothing else is changed. */
export const dbText = (s: string | null | undefined, max = 512): string | null => (s == null ? null : s.replace(/\0/g, '\uFFFD').slice(0, max));
