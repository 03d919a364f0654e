import { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

/**
 * A provider that runs `tick` every `intervalMs`, from application bootstrap until
 * shutdown (the timer does not keep the process alive). `tick` handles its own errors.
 */
export abstract class PeriodicTask implements OnApplicationBootstrap, OnApplicationShutdown {
  protected abstract readonly intervalMs: number;
  private timer?: NodeJS.Timeout;

  protected abstract tick(): Promise<unknown>;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
