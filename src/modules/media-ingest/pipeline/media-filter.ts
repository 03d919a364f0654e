import type { MediaItem } from '../../../jobs/job-payloads';
import type { CapturePolicy } from '../../sessions';

/**
 * The capture-policy hook of the media pipeline: decides per media item whether it is
 * batched for the savers. One filter per stream, so it may keep per-user state
 * (sampling intervals, frame caps). The capture module (issue 7) provides its own
 * factory under MEDIA_ITEM_FILTER_FACTORY; the default keeps everything.
 */
export interface MediaItemFilter {
  shouldKeep(item: MediaItem, policy: CapturePolicy): boolean;
}

export interface MediaItemFilterFactory {
  /** Asynchronous: a filter may start from what the session already stored (a stream taken over). */
  forStream(stream: { sessionId: string; rtmsStreamId: string }, policy: CapturePolicy): Promise<MediaItemFilter>;
}

export const MEDIA_ITEM_FILTER_FACTORY = Symbol('MEDIA_ITEM_FILTER_FACTORY');

export const KEEP_EVERYTHING: MediaItemFilter = { shouldKeep: () => true };

export class KeepEverythingFilterFactory implements MediaItemFilterFactory {
  forStream(): Promise<MediaItemFilter> {
    return Promise.resolve(KEEP_EVERYTHING);
  }
}
