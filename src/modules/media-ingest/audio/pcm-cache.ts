import type { WrittenParts } from './audio-spool.ports';

/**
 * A cached part: in the cache's age order (a doubly linked list, so eviction and release
 * cost O(1) a part), and after its segment's previous part (`segNext`: the segment's own
 * parts, oldest first, which is the order they leave the cache in).
 */
export interface CacheNode {
  seg: CachedSegment;
  key: string;
  bytes: number;
  prev: CacheNode | null;
  next: CacheNode | null;
  segNext: CacheNode | null;
}

/** What the cache holds of one open segment: its parts' PCM by partKey, and their bytes. */
export interface CachedSegment {
  parts: WrittenParts;
  bytes: number;
  /** The segment's oldest and newest part still cached. */
  cacheFirst?: CacheNode | null;
  cacheLast?: CacheNode | null;
  /** Handed over or forgotten: its parts are no longer the cache's, nor counted. */
  released?: boolean;
}

/**
 * The PCM of open segments kept in memory so their WAVs are written without reading the
 * spool file, within one budget for the whole process. The spool file has every byte too,
 * so past the budget the oldest parts (first cached, whatever their segment) are evicted,
 * and the WAV writer reads them back from the file. Without a budget a long segment
 * (segment_seconds up to 3600) kept its whole length in memory: 115 MB per
 * participant-hour at 16 kHz.
 */
export class PcmCache {
  private held = 0;
  private oldest: CacheNode | null = null;
  private newest: CacheNode | null = null;
  private evictedParts = 0;

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.held;
  }

  /** Parts evicted so far (read back from the spool file when their segment is written). */
  get evicted(): number {
    return this.evictedParts;
  }

  /** Keeps a part of an open segment (once per key), then evicts the oldest parts past the budget. */
  add(seg: CachedSegment, key: string, pcm: Buffer): void {
    if (seg.released || seg.parts.has(key)) return;
    seg.parts.set(key, pcm);
    seg.bytes += pcm.length;
    this.held += pcm.length;
    const node: CacheNode = { seg, key, bytes: pcm.length, prev: this.newest, next: null, segNext: null };
    if (this.newest) this.newest.next = node;
    else this.oldest = node;
    this.newest = node;
    if (seg.cacheLast) seg.cacheLast.segNext = node;
    else seg.cacheFirst = node;
    seg.cacheLast = node;
    while (this.held > this.maxBytes && this.oldest) {
      // The oldest part of all is its segment's oldest.
      const e = this.oldest;
      this.unlink(e);
      e.seg.cacheFirst = e.segNext;
      if (!e.segNext) e.seg.cacheLast = null;
      e.seg.parts.delete(e.key);
      e.seg.bytes -= e.bytes;
      this.evictedParts++;
    }
  }

  /**
   * The segment leaves the cache (handed over to be written, forgotten, dropped): its bytes
   * are no longer counted, and its parts map is left as it is, for the writer that has it.
   */
  release(seg: CachedSegment): void {
    if (seg.released) return;
    seg.released = true;
    for (let node = seg.cacheFirst ?? null; node; node = node.segNext) this.unlink(node);
    seg.cacheFirst = seg.cacheLast = null;
  }

  private unlink(node: CacheNode): void {
    this.held -= node.bytes;
    if (node.prev) node.prev.next = node.next;
    else this.oldest = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.newest = node.prev;
    node.prev = node.next = null;
  }
}
