import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Longest stretch a planning loop runs before it gives the event loop a turn. */
export const PLANNING_SLICE_MS = 20;

/**
 * Lets a long loop give the event loop a turn every `sliceMs`. Planning a 10-hour meeting
 * (a million pictures) takes about a second of CPU; run in one piece it would hold up the
 * process's timers and sockets — the composition's lease renewal, and in an all-in-one
 * process the stream jobs' locks, which live 1.6 s. `due()` is cheap enough to ask at
 * every iteration: `if (turns.due()) await turns.give();`.
 */
export class EventLoopTurns {
  private since = performance.now();
  private calls = 0;

  constructor(private readonly sliceMs = PLANNING_SLICE_MS) {}

  due(): boolean {
    // The clock is read once every 256 calls.
    if ((++this.calls & 0xff) !== 0) return false;
    return performance.now() - this.since >= this.sliceMs;
  }

  async give(): Promise<void> {
    await nextTurn();
    this.since = performance.now();
  }
}
