import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { assertSafeKey, hashFile, ByteRange, DeletedObjects, GetResult, MediaStorage, PutResult, StorageObjectNotFoundError, StoredObject } from './media-storage';

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing slash needed). */
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Longest wait for the TCP (and TLS) connection to the endpoint (default 10 s). */
  connectTimeoutMs?: number;
  /** Longest a request's socket may stay silent, sending and receiving nothing (default 30 s). */
  socketTimeoutMs?: number;
}

/**
 * Without timeouts the SDK waits for ever on an endpoint that accepted the connection and
 * then stalled (an overloaded MinIO, a stuck proxy): a compose job or a saver would hang
 * with it. The socket timeout is an idle timeout, not a total one, so a multi-GB upload
 * or download that keeps moving is never cut; its price is that a reader who stops
 * reading that long (a paused player on the download route) loses its S3 stream and asks
 * again with Range. The SDK retries a timed-out request like any transient error (up to 3
 * attempts; a streamed upload once).
 */
export const S3_CONNECT_TIMEOUT_MS = 10_000;
export const S3_SOCKET_TIMEOUT_MS = 30_000;

function isNotFound(err: unknown): boolean {
  if (err instanceof S3ServiceException) {
    return err.$metadata.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey';
  }
  return false;
}

/** S3-compatible driver (AWS S3, MinIO, R2, …) on @aws-sdk/client-s3. */
export class S3MediaStorage implements MediaStorage {
  readonly driver = 's3' as const;
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly opts: S3StorageOptions) {
    const trimmed = opts.prefix.replace(/^\/+|\/+$/g, '');
    if (trimmed) assertSafeKey(trimmed);
    this.prefix = trimmed ? `${trimmed}/` : '';
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      // Many S3-compatible servers reject the newer default CRC32 checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials: opts.accessKeyId && opts.secretAccessKey ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } : undefined,
      requestHandler: { connectionTimeout: opts.connectTimeoutMs ?? S3_CONNECT_TIMEOUT_MS, socketTimeout: opts.socketTimeoutMs ?? S3_SOCKET_TIMEOUT_MS },
    });
  }

  private full(key: string, allowTrailingSlash = false): string {
    assertSafeKey(key, allowTrailingSlash);
    return this.prefix + key;
  }

  async put(key: string, body: Buffer, contentType: string): Promise<PutResult> {
    const sha256 = createHash('sha256').update(body).digest('hex');
    await this.client.send(
      new PutObjectCommand({ Bucket: this.opts.bucket, Key: this.full(key), Body: body, ContentType: contentType, ContentLength: body.length, Metadata: { sha256 } }),
    );
    return { bytes: body.length, sha256 };
  }

  /**
   * One streamed PUT of the file (S3 takes up to 5 GiB in one PUT): the file is read twice
   * (its hash, then the upload), never held in memory. Multipart upload would need
   * @aws-sdk/lib-storage, which the hub does not ship.
   *
   * `signal` (not part of MediaStorage yet; the compose job passes it) aborts the upload.
   * The file's stream is destroyed whatever happens: on a refused or aborted PUT the SDK
   * leaves it open, and its descriptor would keep a deleted multi-GB file allocated.
   */
  async putFile(key: string, filePath: string, contentType: string, opts: { signal?: AbortSignal } = {}): Promise<PutResult> {
    const { bytes, sha256 } = await hashFile(filePath);
    const body = createReadStream(filePath);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.opts.bucket, Key: this.full(key), Body: body, ContentType: contentType, ContentLength: bytes, Metadata: { sha256 } }),
        { abortSignal: opts.signal },
      );
    } finally {
      body.destroy();
    }
    return { bytes, sha256 };
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.full(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      const body = res.Body;
      if (!(body instanceof Readable)) throw new Error('S3 GetObject returned no stream');
      const total = res.ContentRange ? Number(res.ContentRange.split('/')[1]) : Number(res.ContentLength ?? 0);
      return { stream: body, size: total, length: Number(res.ContentLength ?? 0) };
    } catch (err) {
      if (isNotFound(err)) throw new StorageObjectNotFoundError(key);
      throw err;
    }
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.full(key) }));
      return { size: Number(res.ContentLength ?? 0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.full(key) }));
  }

  async deletePrefix(prefix: string): Promise<DeletedObjects> {
    if (!prefix.endsWith('/')) throw new Error('deletePrefix needs a folder prefix ending in /');
    const full = this.full(prefix, true);
    const deleted: DeletedObjects = { objects: 0, bytes: 0 };
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: full, ContinuationToken: token, MaxKeys: 1000 }));
      const listed = (page.Contents ?? []).filter((o): o is typeof o & { Key: string } => typeof o.Key === 'string');
      if (listed.length > 0) {
        const res = await this.client.send(new DeleteObjectsCommand({ Bucket: this.opts.bucket, Delete: { Objects: listed.map(({ Key }) => ({ Key })), Quiet: true } }));
        if (res.Errors && res.Errors.length > 0) throw new Error(`S3 delete failed for ${res.Errors.length} object(s): ${res.Errors[0]?.Code ?? 'error'}`);
        deleted.objects += listed.length;
        // The listing's sizes: what the bucket held, without a HEAD per object.
        deleted.bytes += listed.reduce((sum, o) => sum + Number(o.Size ?? 0), 0);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return deleted;
  }

  locate(key: string): string {
    return `s3://${this.opts.bucket}/${this.full(key)}`;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
