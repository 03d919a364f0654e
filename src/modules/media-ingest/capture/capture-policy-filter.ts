import type { CapturePolicy, MediaTypeName } from '../../sessions';
import { isH264 } from '../../sessions';
import { CaptureAdmission } from './capture-admission';
import { MAX_TRACKED_PARTICIPANTS } from '../stream/participant-cap';
import type { SavedFrames } from '../repositories/media-artifacts.repository';

/** The fields of a media message the filter looks at (a MediaItem satisfies it). */
export interface FilterableItem {
  msgType: number;
  userId: number;
  timestamp: number;
}

const MSG_MEDIA_TYPE: Record<number, MediaTypeName> = { 14: 'audio', 15: 'video', 16: 'deskshare', 17: 'transcript', 18: 'chat' };

interface FrameState {
  seen: number;
  saved: number;
  lastSavedTs: number | null;
}

export interface FilterStats {
  kept: number;
  dropped: Record<string, number>;
}

/**
 * Applies a session's capture policy to one stream's media, in the stream worker and
 * before anything is enqueued (dropped media costs no Redis round trip). Pure and
 * synchronous; holds per-user frame counters for one stream, so create one per stream
 * (and keep it across reconnects: the counters describe the stream, not the socket). A
 * new run of the stream's job (a takeover) starts from the frames the session stored
 * (CapturePolicyFilterFactory); frames kept by the old run but not yet stored when it
 * ended are not counted, so a cap can be passed by what was in flight then (one batch).
 *
 * Video and deskshare, per user: skip the first `skip_first_frames`, then keep a frame
 * only if `interval_ms` has passed (Zoom timestamps) since the last kept one, until
 * `max_frames_per_user` are kept (0 = no limit). Not with format h264: every frame is
 * kept, for the stream's H.264 segmenter.
 */
export class CapturePolicyFilter {
  private readonly frames = new Map<string, FrameState>();
  private readonly admission: CaptureAdmission;
  readonly stats: FilterStats = { kept: 0, dropped: {} };

  /** `saved`: the frames the session already stored (from earlier runs of the stream, or other streams). */
  constructor(
    private readonly policy: CapturePolicy,
    saved: readonly SavedFrames[] = [],
  ) {
    this.admission = new CaptureAdmission(policy);
    for (const f of saved) {
      if (this.frames.size >= 2 * MAX_TRACKED_PARTICIPANTS) break;
      // Frames were stored, so this participant's first ones were already skipped.
      this.frames.set(`${f.kind}:${f.userId}`, { seen: Math.max(f.saved, policy[f.kind].skip_first_frames), saved: f.saved, lastSavedTs: f.lastTs });
    }
  }

  /** The hook the stream pipeline calls for each message. `policy` is accepted for the pipeline's signature; the constructor's policy rules. */
  shouldKeep(item: FilterableItem, _policy?: CapturePolicy): boolean {
    const reason = this.dropReason(item);
    if (reason) {
      this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
      return false;
    }
    this.stats.kept++;
    return true;
  }

  /** Why a message is dropped, or null to keep it (updates frame counters when kept). */
  dropReason(item: FilterableItem): string | null {
    const type = MSG_MEDIA_TYPE[item.msgType];
    if (!type) return 'unknown_type';
    const refusal = this.admission.refusal(type, item.userId);
    if (refusal) return refusal;
    // H.264 keeps every frame (a frame depends on the ones before it): sampling is for JPEG/PNG only.
    if ((type === 'video' || type === 'deskshare') && !isH264(this.policy[type])) return this.frameDecision(`${type}:${item.userId}`, item.timestamp, this.policy[type]);
    return null;
  }

  private frameDecision(key: string, ts: number, rule: CapturePolicy['video']): string | null {
    let st = this.frames.get(key);
    if (!st) {
      // One counter per participant and frame type: past the cap, new ids get no state
      // and their frames are dropped (counted as 'participant_cap').
      if (this.frames.size >= 2 * MAX_TRACKED_PARTICIPANTS) return 'participant_cap';
      st = { seen: 0, saved: 0, lastSavedTs: null };
      this.frames.set(key, st);
    }
    st.seen++;
    if (st.seen <= rule.skip_first_frames) return 'skip_first';
    if (rule.max_frames_per_user > 0 && st.saved >= rule.max_frames_per_user) return 'max_frames';
    if (rule.interval_ms > 0 && st.lastSavedTs !== null && ts - st.lastSavedTs < rule.interval_ms && ts >= st.lastSavedTs) return 'interval';
    st.saved++;
    st.lastSavedTs = ts;
    return null;
  }
}
