/** A plain object we can read fields from (JSON from Zoom, job data, request bodies). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
