import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

/** Inclusive byte range, already validated against the object size. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PutResult {
  bytes: number;
  sha256: string;
}

export interface StoredObject {
  size: number;
}

/** What a prefix deletion removed: objects and their bytes, as the storage itself reported them. */
export interface DeletedObjects {
  objects: number;
  bytes: number;
}

export interface GetResult {
  stream: Readable;
  /** Size of the whole object. */
  size: number;
  /** Bytes this stream yields (the range length, or size). */
  length: number;
}

/**
 * Where captured media goes. Keys are relative, '/'-separated and built only by
 * media-key.ts from sanitised parts. `put` is idempotent: writing the same key again
 * leaves the same bytes or replaces the object atomically. Readers reach an object through
 * its row, inserted only after put() returns, so they never see a half-written one (the
 * local driver creates a new key in place; S3 PUTs are atomic).
 */
export interface MediaStorage {
  readonly driver: 'local' | 's3';
  put(key: string, body: Buffer, contentType: string): Promise<PutResult>;
  /**
   * put() of a local file, streamed (a composed recording may be gigabytes: it is never
   * held in memory). Same guarantees: idempotent, atomic replace.
   */
  putFile(key: string, filePath: string, contentType: string): Promise<PutResult>;
  get(key: string, range?: ByteRange): Promise<GetResult>;
  stat(key: string): Promise<StoredObject | null>;
  /**
   * Deletes every object whose key starts with `prefix` (which must end in '/'); returns
   * how many and their bytes (the deletion log records both).
   */
  deletePrefix(prefix: string): Promise<DeletedObjects>;
  delete(key: string): Promise<void>;
  /** Human-readable location of a key (path or s3:// URL), for reports. */
  locate(key: string): string;
  close?(): Promise<void>;
}

export const MEDIA_STORAGE = Symbol('MEDIA_STORAGE');

/** SHA-256 and size of a file, read as a stream. */
export async function hashFile(filePath: string): Promise<PutResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(filePath)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export class StorageObjectNotFoundError extends Error {
  constructor(key: string) {
    super(`Stored object not found: ${key}`);
    this.name = 'StorageObjectNotFoundError';
  }
}

/** A key that could escape the storage root: the item can never be stored (not an outage). */
export class UnsafeStorageKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeStorageKeyError';
  }
}

/** Refuses keys that could escape the storage root (defence in depth; media-key.ts builds safe keys). */
export function assertSafeKey(key: string, allowTrailingSlash = false): void {
  const parts = key.split('/');
  const last = parts[parts.length - 1];
  const bad =
    key.length === 0 ||
    key.length > 1024 ||
    key.includes('\0') ||
    key.includes('\\') ||
    key.startsWith('/') ||
    parts.some((p, i) => p === '.' || p === '..' || (p === '' && !(allowTrailingSlash && i === parts.length - 1))) ||
    (!allowTrailingSlash && last === '');
  if (bad) throw new UnsafeStorageKeyError(`Unsafe storage key refused: ${JSON.stringify(key.slice(0, 80))}`);
}
