import { decodeCursor } from './pagination';
import { keysetCursor, keysetToPage } from './keyset-page';

describe('keyset pages of the delivery log', () => {
  const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

  it('keeps the microseconds in the cursor, readable by the shared decoder', () => {
    const cursor = keysetCursor({ createdAt: '2026-12-01T10:00:00.123456Z', id: id(1) });
    expect(decodeCursor(cursor)).toEqual({ createdAt: '2026-12-01T10:00:00.123456Z', id: id(1) });
  });

  it('cuts limit + 1 rows into a page and a cursor after its last row', () => {
    const rows = [3, 2, 1].map((n) => ({ row: { n }, createdAt: `2026-12-01T10:00:00.00000${n}Z`, id: id(n) }));
    const page = keysetToPage(rows, 2, (r) => r.n);
    expect(page.data).toEqual([3, 2]);
    expect(decodeCursor(page.next_cursor ?? undefined)).toEqual({ createdAt: '2026-12-01T10:00:00.000002Z', id: id(2) });
    expect(keysetToPage(rows, 3, (r) => r.n)).toEqual({ data: [3, 2, 1], next_cursor: null });
  });
});
