import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy that can play an outage of the service behind it (Postgres, Redis,
 * S3…) without touching the shared service itself: `cut()` destroys every open connection
 * and refuses new ones (what a client sees while a server restarts); `restore()` accepts
 * again. Used by the fault benchmark and by e2e tests that need a real outage of one
 * process's view of a dependency.
 */
export class TcpFaultProxy {
  private server?: Server;
  private readonly open = new Set<Socket>();
  private down = false;
  private cutAt?: number;
  /** Outage windows played so far, in ms since the epoch. */
  readonly outages: { from: number; to?: number }[] = [];

  constructor(
    private readonly target: { host: string; port: number },
    private readonly listenPort = 0,
  ) {}

  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('proxy is not listening');
    return address.port;
  }

  get isDown(): boolean {
    return this.down;
  }

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
    return this;
  }

  /** Drops every connection and refuses new ones until `restore()`. */
  cut(): void {
    if (this.down) return;
    this.down = true;
    this.cutAt = Date.now();
    this.outages.push({ from: this.cutAt });
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }

  restore(): void {
    if (!this.down) return;
    this.down = false;
    this.outages[this.outages.length - 1].to = Date.now();
  }

  /** Plays an outage of `ms` milliseconds. */
  async outage(ms: number): Promise<void> {
    this.cut();
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.restore();
  }

  async stop(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private accept(client: Socket): void {
    if (this.down) {
      // A restarting server refuses: the client sees the connection reset at once.
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    const pair = [client, upstream];
    for (const socket of pair) {
      this.open.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.open.delete(socket);
        for (const other of pair) if (other !== socket) other.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
