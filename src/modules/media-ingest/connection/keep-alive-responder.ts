import { RtmsMessageType } from '../../../zoom/rtms-enums';
import type { RtmsMessage } from '../protocol/rtms-message-parser';

export interface KeepAliveObserver {
  /** Called after each answer with how long the reply took (ms). */
  answered(socket: 'signaling' | 'media', latencyMs: number): void;
}

/**
 * Answers KEEP_ALIVE_REQ (12) at once with KEEP_ALIVE_RESP (13) carrying the same
 * timestamp, on whichever socket it arrived. Runs before any other handling of the
 * message so slow work can never delay an answer.
 */
export class KeepAliveResponder {
  lastRequestAt: number | null = null;

  constructor(
    private readonly socket: 'signaling' | 'media',
    private readonly send: (msg: Record<string, unknown>) => boolean,
    private readonly observer: KeepAliveObserver,
  ) {}

  /** Returns true when the message was a keep-alive request (and was answered). */
  handle(message: RtmsMessage, receivedAt: number): boolean {
    if (message.msg_type !== RtmsMessageType.KeepAliveReq) return false;
    this.lastRequestAt = receivedAt;
    if (this.send({ msg_type: RtmsMessageType.KeepAliveResp, timestamp: message.timestamp })) {
      this.observer.answered(this.socket, Date.now() - receivedAt);
    }
    return true;
  }
}
