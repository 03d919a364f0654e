/** The message of anything thrown, for logs and stored outcomes (never a stack). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
