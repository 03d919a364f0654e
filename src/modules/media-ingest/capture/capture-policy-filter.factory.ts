import { Injectable } from '@nestjs/common';
import type { CapturePolicy } from '../../sessions';
import { isH264 } from '../../sessions';
import type { MediaItemFilter, MediaItemFilterFactory } from '../pipeline/media-filter';
import { MediaArtifactsRepository } from '../repositories/media-artifacts.repository';
import { CapturePolicyFilter } from './capture-policy-filter';

/**
 * The capture-policy hook of the stream pipeline: one stateful filter per stream run. A
 * run after a takeover, a hand-over or a deploy starts from the frames the session has
 * already stored, so `max_frames_per_user`, `skip_first_frames` and `interval_ms` hold
 * for the session, not for each run of its stream job.
 */
@Injectable()
export class CapturePolicyFilterFactory implements MediaItemFilterFactory {
  constructor(private readonly artifacts: MediaArtifactsRepository) {}

  async forStream(stream: { sessionId: string }, policy: CapturePolicy): Promise<MediaItemFilter> {
    const sampled = (['video', 'deskshare'] as const).some((k) => policy.media_types.includes(k) && !isH264(policy[k]));
    return new CapturePolicyFilter(policy, sampled ? await this.artifacts.savedFrames(stream.sessionId) : []);
  }
}
