import { Column } from 'typeorm';

/**
 * The columns of a row that tracks calls to Zoom under the call policy
 * (rtms_control_requests, room_dispatches): how often it called, how often Zoom
 * throttled it, Zoom's last refusal, and when it tries again. Both tables had these
 * columns before this class existed; extending it changes no schema.
 */
export abstract class ZoomCallRecord {
  /** Calls made to Zoom for this row (every retry counts). */
  @Column({ type: 'int', default: 0 })
  attempts: number;

  /** 429 answers received (they do not use up job attempts, but are capped). */
  @Column({ name: 'throttled_count', type: 'int', default: 0 })
  throttledCount: number;

  @Column({ name: 'zoom_status', type: 'int', nullable: true })
  zoomStatus: number | null;

  @Column({ name: 'zoom_code', type: 'varchar', length: 32, nullable: true })
  zoomCode: string | null;

  @Column({ name: 'zoom_message', type: 'text', nullable: true })
  zoomMessage: string | null;

  /** Our summary of the last failure (never a token, secret or passcode). */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt: Date | null;
}
