import type { CapturePolicy } from '../../sessions';
import type { MediaItemFilter, MediaItemFilterFactory } from '../pipeline/media-filter';
import { CapturePolicyFilter } from './capture-policy-filter';

/** The capture-policy hook of the stream pipeline: one stateful filter per stream. */
export class CapturePolicyFilterFactory implements MediaItemFilterFactory {
  forStream(_rtmsStreamId: string, policy: CapturePolicy): MediaItemFilter {
    return new CapturePolicyFilter(policy);
  }
}
