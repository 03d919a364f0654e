import type { CapturePolicy, MediaTypeName } from '../../sessions';

export type AdmissionRefusal = 'media_type' | 'transcript_off' | 'chat_off' | 'excluded_user' | 'not_included_user' | 'unattributed';

/**
 * The part of a capture policy that says whose media, and which types, may leave the
 * stream at all — for storage and for live clients alike (privacy). Frame sampling is
 * storage's alone (CapturePolicyFilter). Pure, no per-stream state.
 */
export class CaptureAdmission {
  private readonly include: Set<string>;
  private readonly exclude: Set<string>;
  private readonly types: Set<MediaTypeName>;

  constructor(private readonly policy: CapturePolicy) {
    this.include = new Set(policy.include_user_ids.map(String));
    this.exclude = new Set(policy.exclude_user_ids.map(String));
    this.types = new Set(policy.media_types);
  }

  /**
   * Whether a live event about this participant may leave the stream (joins, leaves,
   * speaker, sharing, video on/off): the include/exclude lists apply to what apps learn
   * about a person, not only to their media. Events about no one (`undefined`/`null`) pass.
   */
  admitsParticipant(userId: unknown): boolean {
    if (userId === undefined || userId === null) return true;
    const user = String(userId);
    if (this.exclude.has(user)) return false;
    return this.include.size === 0 || this.include.has(user);
  }

  /** Why this media type of this Zoom user may not leave the stream, or null when it may. */
  refusal(type: MediaTypeName, userId: number): AdmissionRefusal | null {
    if (!this.types.has(type)) return 'media_type';
    if (type === 'transcript' && !this.policy.transcript.enabled) return 'transcript_off';
    if (type === 'chat' && !this.policy.chat.enabled) return 'chat_off';
    // user 0 is Zoom's mixed audio stream, not a participant: user filters don't apply to it.
    if (type === 'audio' && userId === 0) return null;
    if (this.exclude.size > 0 || this.include.size > 0) {
      // Any other user 0 is a message Zoom named no one for (chat in the older shape): it
      // may be an excluded person's, and is no included person's for certain.
      if (userId === 0) return 'unattributed';
      const user = String(userId);
      if (this.exclude.has(user)) return 'excluded_user';
      if (this.include.size > 0 && !this.include.has(user)) return 'not_included_user';
    }
    return null;
  }
}
