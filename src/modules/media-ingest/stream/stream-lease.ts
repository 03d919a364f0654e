import Redis from 'ioredis';

/**
 * The stream's lease is its BullMQ job lock (`<prefix>:<queue>:<jobId>:lock` holding
 * the job token). A holder checks it periodically: once the value is not its token
 * (the lock expired and another worker took the job), it must close its sockets.
 */
export class StreamLease {
  constructor(
    private readonly redis: Redis,
    private readonly lockKey: string,
    private readonly token: string,
  ) {}

  /** true = still ours; false = lost; null = could not tell (Redis unreachable). */
  async held(): Promise<boolean | null> {
    try {
      return (await this.redis.get(this.lockKey)) === this.token;
    } catch {
      return null;
    }
  }
}
