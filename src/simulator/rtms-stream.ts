/** The state of one RTMS stream and of each socket serving it; the engine's pieces share it. */
import type { WebSocket } from 'ws';
import { H264Sequence } from './h264-sequence';
import type { MeetingState } from './meeting';
import { StopReason, type MediaKind } from './protocol';
import type { Params } from './rtms-media-params';
import { randomHex } from './signing';
import type { ConnectionRecord, SimStream, StreamRecord } from './types';

export type MediaPath = 'all' | MediaKind;

/** How a lost media socket is announced on signaling: msg 6 event 7, msg 8 state 2, both or not at all. */
export type MediaNotify = 'event' | 'state' | 'both' | 'none';

/** Sends one JSON message and counts it in the stream's record (per user when given). */
export type SendFn = (c: Conn, msg: Record<string, unknown>, userId?: number) => boolean;

interface KaState {
  outstanding: Map<number, number>; // request timestamp → sent at
  unanswered: number;
  timer?: NodeJS.Timeout;
}

interface Cursor {
  next: number; // next script time due
  /**
   * Audio only: the cursor is sending the stream's pre-connect buffer (buffer_data), so it may
   * lag `now` by up to the buffer's span instead of the pump's usual catch-up limit. Cleared
   * once the burst has caught up.
   */
  burst?: boolean;
}

export class Conn {
  stream?: Stream;
  handshaken = false;
  active = false;
  closing = false;
  kinds: MediaKind[] = [];
  params: Partial<Record<MediaKind, Params>> = {};
  readonly ka: KaState = { outstanding: new Map(), unanswered: 0 };
  cursors: Partial<Record<MediaKind, Cursor>> = {};
  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly kind: 'signaling' | 'media',
    readonly gen: number,
    readonly path: string,
    readonly mediaPath: MediaPath | undefined,
    readonly rec: ConnectionRecord,
  ) {}
}

export interface View {
  present: Set<number>;
  camera: Set<number>;
  sharer?: number;
  speaker?: number;
}

export class Stream implements SimStream {
  readonly streamId: string;
  readonly sessionId = randomHex(16);
  gen = 0;
  serverUrls = '';
  state: StreamRecord['state'] = 'started';
  paused = false;
  signaling?: Conn;
  readonly media = new Map<MediaPath, Conn>();
  readonly subscriptions = new Set<number>();
  view: View = { present: new Set(), camera: new Set() };
  firstPacketSent = false;
  videoSubscription?: number;
  /** Script time the stream was created at: when its `*.rtms_started` webhook went out. */
  readonly startedAt: number;
  /** msg 1's `buffer_data` (default true) of the live signaling connection. */
  bufferData = true;
  /**
   * Audio from `startedAt` (at most AUDIO_BUFFER_MS of it) is still held for the stream's first
   * audio connection (rtms-protocol.md §2 `buffer_data`, §3 timing). Cleared when a media socket
   * carrying audio is first turned on, with or without the buffer: a reconnect gets none.
   */
  audioBufferPending = true;
  /** Where each user's H.264 loop stands (codec 7); kept across media reconnects, as Zoom's live stream goes on. */
  readonly h264 = { video: new H264Sequence(), deskshare: new H264Sequence() };
  sigTimer?: NodeJS.Timeout;
  interruptReason: number = StopReason.SIGNAL_CONNECTION_INTERRUPTED;
  readonly mediaTimers = new Map<MediaPath, NodeJS.Timeout>();
  readonly kaSuppressed = { signaling: false, media: false };
  constructor(
    readonly meeting: MeetingState,
    readonly operatorId: string,
    streamId?: string,
  ) {
    this.streamId = streamId ?? randomHex(16);
    this.startedAt = meeting.now();
  }
  get meetingId(): number {
    return this.meeting.id;
  }
  get meetingUuid(): string {
    return this.meeting.uuid;
  }
  get terminated(): boolean {
    return this.state === 'terminated';
  }
}
