import { Injectable } from '@nestjs/common';

/** A hook may say how many stored artifacts it deleted (reported in the session's media.deleted). */
export type SessionCleanupHook = (sessionId: string) => Promise<void | number>;

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

  async run(sessionId: string): Promise<{ artifactsDeleted: number }> {
    let artifactsDeleted = 0;
    for (const hook of this.hooks) artifactsDeleted += (await hook(sessionId)) ?? 0;
    return { artifactsDeleted };
  }
}
