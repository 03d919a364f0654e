import type { Logger } from '@nestjs/common';

interface Window {
  until: number;
  suppressed: number;
  level: 'warn' | 'error';
  summary: string;
  timer: NodeJS.Timeout | null;
}

/**
 * At most one line per key (a refusal reason, say) per window: the first line of a
 * window is logged as it is, the others are counted and summed up in one line when the
 * window ends, which also opens the next window. A flood of bad requests therefore costs
 * a few lines every ten seconds, not one per request, and no refusal goes uncounted.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly logger: Pick<Logger, 'warn' | 'error'>,
    private readonly windowMs = 10_000,
    /** Keys come from a closed set in practice; past this many, the rest share one. */
    private readonly maxKeys = 100,
  ) {}

  warn(key: string, line: string): void {
    this.log('warn', key, line);
  }

  error(key: string, line: string, stack?: string): void {
    this.log('error', key, line, stack);
  }

  /** Logs what is still counted (at shutdown) and stops the timers. */
  flush(): void {
    for (const [key, w] of [...this.windows]) {
      if (w.timer) clearTimeout(w.timer);
      this.windows.delete(key);
      if (w.suppressed > 0) this.summarise(w);
    }
  }

  private log(level: 'warn' | 'error', rawKey: string, line: string, stack?: string): void {
    const key = this.windows.has(rawKey) || this.windows.size < this.maxKeys ? rawKey : '(other)';
    const now = Date.now();
    const w = this.windows.get(key);
    if (w && now < w.until) {
      w.suppressed += 1;
      w.summary = line;
      w.timer ??= this.closeAt(key, w);
      return;
    }
    this.windows.set(key, { until: now + this.windowMs, suppressed: 0, level, summary: line, timer: null });
    if (level === 'error') this.logger.error(line, stack);
    else this.logger.warn(line);
  }

  private closeAt(key: string, w: Window): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        w.timer = null;
        if (w.suppressed === 0) {
          this.windows.delete(key);
          return;
        }
        this.summarise(w);
        // The summary is this key's line for the next window.
        w.suppressed = 0;
        w.until = Date.now() + this.windowMs;
      },
      Math.max(0, w.until - Date.now()),
    );
    t.unref();
    return t;
  }

  private summarise(w: Window): void {
    const line = `${w.suppressed} more like this in the last ${Math.round(this.windowMs / 1000)} s (not logged one by one); latest: ${w.summary}`;
    if (w.level === 'error') this.logger.error(line);
    else this.logger.warn(line);
  }
}
