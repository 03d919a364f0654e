import { Injectable } from '@nestjs/common';

export type SessionCleanupHook = (sessionId: string) => Promise<void>;

/**
 * Work other modules must do before a session's rows go (e.g. media-ingest deletes the
 * stored media). Modules that depend on sessions register here, so sessions never
 * depends on them. A hook that throws stops the delete (it can be retried).
 */
@Injectable()
export class SessionCleanupHooks {
  private readonly hooks: SessionCleanupHook[] = [];

  register(hook: SessionCleanupHook): void {
    this.hooks.push(hook);
  }

  async run(sessionId: string): Promise<void> {
    for (const hook of this.hooks) await hook(sessionId);
  }
}
