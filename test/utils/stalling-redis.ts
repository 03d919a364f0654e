import { AddressInfo, createServer, Server, Socket } from 'node:net';

/**
 * A "Redis" on loopback that never answers: while `resetting` it resets every connection
 * (the client records a connection error, like a refused one), then it accepts and reads
 * but never replies, so a client's next attempt stays "starting" (socket open, ready check
 * unanswered). Closing a client in that state is what used to leave an unhandled
 * rejection behind (closed-connection-errors.ts); a refused port only hits it when the
 * close falls while the socket is being opened.
 */
export class StallingRedis {
  private readonly server: Server;
  private readonly held = new Set<Socket>();
  private waiters: { count: number; resolve: () => void }[] = [];
  /** Reset new connections (true) or hold them (false). */
  resetting = true;

  constructor(private resetsLeft = Infinity) {
    this.server = createServer((socket) => {
      socket.on('error', () => undefined);
      if (this.resetting && this.resetsLeft > 0) {
        this.resetsLeft--;
        socket.resetAndDestroy();
        return;
      }
      this.held.add(socket);
      // Read (and drop) what the client sends, so its FIN is seen and the socket closes.
      socket.resume();
      socket.on('close', () => this.held.delete(socket));
      this.waiters = this.waiters.filter((w) => (this.held.size >= w.count ? (w.resolve(), false) : true));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections open and waiting for an answer. */
  get holdingCount(): number {
    return this.held.size;
  }

  /** Resolves once `count` connections are open and waiting for an answer. */
  holding(count: number): Promise<void> {
    if (this.held.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async stop(): Promise<void> {
    for (const socket of this.held) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
