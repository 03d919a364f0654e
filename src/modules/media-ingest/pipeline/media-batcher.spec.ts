import { JobName } from '../../../jobs/job-names';
import type { MediaBatchPayload, MediaItem } from '../../../jobs/job-payloads';
import type { CapturePolicy } from '../../sessions/capture-policy';
import { MediaBatcher, MediaJobName } from './media-batcher';
import { KEEP_EVERYTHING } from './media-filter';

const item = (msgType: number, data = 'AAAA'): MediaItem => ({ msgType, userId: 1, timestamp: 1, data, receivedAt: 1 });
const policy = {} as CapturePolicy;

describe('MediaBatcher', () => {
  it('batches by size and by time, per job name, video and share both as frame.save', async () => {
    const out: Array<{ name: MediaJobName; batches: MediaBatchPayload[] }> = [];
    const b = new MediaBatcher({ sessionId: 's', rtmsStreamId: 'r' }, policy, KEEP_EVERYTHING, { enqueueBatches: async (name, batches) => void out.push({ name, batches }) }, { maxItems: 3, maxBytes: 1e6, flushMs: 20 });
    b.add(item(15));
    b.add(item(16));
    b.add(item(15)); // third frame → size flush
    b.add(item(14));
    await new Promise((r) => setTimeout(r, 60)); // time flush for audio
    await b.close();
    expect(out.find((o) => o.name === JobName.FrameSave)?.batches[0].items.map((i) => i.msgType)).toEqual([15, 16, 15]);
    expect(out.find((o) => o.name === JobName.AudioSegmentSave)?.batches[0].items).toHaveLength(1);
    expect(b.stats).toMatchObject({ kept: 4, enqueuedItems: 4 });
  });

  it('applies the filter hook and keeps items when enqueue fails', async () => {
    let fail = true;
    const got: MediaItem[] = [];
    const b = new MediaBatcher(
      { sessionId: 's', rtmsStreamId: 'r' },
      policy,
      { shouldKeep: (i) => i.msgType !== 17 },
      {
        enqueueBatches: async (_n, batches) => {
          if (fail) throw new Error('redis down');
          for (const x of batches) got.push(...x.items);
        },
      },
      { maxItems: 100, maxBytes: 1e6, flushMs: 10 },
    );
    b.add(item(17));
    b.add(item(18));
    await b.flush();
    expect(b.pendingItems()).toBe(1);
    fail = false;
    await b.close();
    expect(got.map((i) => i.msgType)).toEqual([18]);
    expect(b.stats.filtered).toBe(1);
  });
});
