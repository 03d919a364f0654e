import { compareEntryIds } from '../live-protocol';
import { Subscription } from './subscription';
import { LogEntry } from './text-log';

/** The client a cursor writes to (LiveClient), narrowed to what the cursor needs. */
export interface TextSink {
  readonly closed: boolean;
  /** Sends one entry of a subscription; false when that cut the client (too slow). */
  sendEntry(subscriptionId: string, item: LogEntry): boolean;
  /** Claims memory for a held entry from the client's budget; false when it is spent. */
  reservePending(bytes: number): boolean;
  releasePending(bytes: number): void;
}

/**
 * One subscription's text of one session, in entry-id order, each entry once.
 *
 * A cursor starts out holding: entries the live reader hands it are kept (bounded by
 * the client's budget) while the replay (or, without resume, just the `subscribed`
 * answer) goes first; finishReplay then releases those newer than what was replayed.
 * If the held entries outgrow the budget they are dropped and `overflows` goes up:
 * they are in the log, so the replay reads on until it catches up with no overflow
 * in between.
 */
export class TextCursor {
  /** Last entry id handled (sent or filtered out); later entries with a smaller or equal id are duplicates. */
  private lastId: string | null;
  /** For a cursor from now: the reader's position when it started (what it would resume after before it has handled anything). */
  private startId: string | null = null;
  private holding = true;
  private held: LogEntry[] = [];
  private heldBytes = 0;
  private overflowCount = 0;
  private cancelledFlag = false;

  constructor(
    readonly subscription: Subscription,
    readonly sessionId: string,
    private readonly sink: TextSink,
    /** Entries up to this id are not sent (the resume point), or null for "from the first entry handed over". */
    after: string | null,
  ) {
    this.lastId = after;
  }

  get position(): string | null {
    return this.lastId;
  }

  /** Where this cursor would go on from: its position, or for a cursor from now that handled nothing yet, where it started. */
  get resumePoint(): string | null {
    return this.lastId ?? this.startId;
  }

  /** Records where a cursor from now started (the reader's position for its session then). */
  noteStart(readerPosition: string | undefined): void {
    if (this.lastId === null && readerPosition !== undefined) this.startId = readerPosition;
  }

  get overflows(): number {
    return this.overflowCount;
  }

  get cancelled(): boolean {
    return this.cancelledFlag || this.sink.closed;
  }

  get isHolding(): boolean {
    return this.holding;
  }

  /**
   * Moves the resume point back to `position` before the replay starts (the requested
   * one is not an id of the log: replay it from its start instead of skipping it all).
   */
  rewind(position: string): void {
    if (!this.holding) throw new Error('A cursor is rewound only before its replay');
    this.lastId = position;
  }

  /** An entry from the live reader. */
  onLive(item: LogEntry): void {
    if (this.cancelled) return;
    if (!this.holding) {
      this.deliver(item);
      return;
    }
    // Filtered entries need no memory: the replay would skip them too.
    if (!this.subscription.wantsEntry(item.entry)) return;
    if (!this.sink.reservePending(item.bytes)) {
      this.dropHeld();
      this.overflowCount++;
      return;
    }
    this.held.push(item);
    this.heldBytes += item.bytes;
  }

  /** Sends the entry unless it is a duplicate or filtered; false when the client is gone. */
  deliver(item: LogEntry): boolean {
    if (this.lastId !== null && compareEntryIds(item.id, this.lastId) <= 0) return true;
    this.lastId = item.id;
    if (!this.subscription.wantsEntry(item.entry)) return true;
    return this.sink.sendEntry(this.subscription.id, item);
  }

  /** The replay reached the log's end: send what was held (only what is newer), then go live. */
  finishReplay(): void {
    const held = this.held;
    this.dropHeld();
    this.holding = false;
    for (const item of held) if (!this.deliver(item)) return;
  }

  cancel(): void {
    this.cancelledFlag = true;
    this.dropHeld();
  }

  private dropHeld(): void {
    if (this.heldBytes > 0) this.sink.releasePending(this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
  }
}
