/**
 * Zoom's own `endpoint.url_validation` schedule (rtms-protocol.md §1): the URL is validated when
 * it is saved or changed, and again every 72 h, without anyone asking. A failed check is
 * recorded (status + webhook log) and events keep going to the URL: the protocol notes say
 * nothing about what Zoom does after a failed re-validation, so the simulator does not guess.
 */
import type { UrlValidationResult, UrlValidationStatus } from './types';

export type Validate = (url: string, plainToken: string) => Promise<UrlValidationResult>;

export interface UrlValidationOptions {
  /** Validate on save and on the timer (default true); false = only on request (`sim.validateUrl()`). */
  automatic: boolean;
  /** Time between automatic validations of the same URL (Zoom: 72 h). */
  intervalMs: number;
}

const randomPlainToken = () => 'sim' + Math.random().toString(36).slice(2, 14);

export class UrlValidationSchedule {
  private timer?: NodeJS.Timeout;
  private closed = false;
  private current: UrlValidationStatus;

  constructor(
    private readonly validate: Validate,
    private readonly opts: UrlValidationOptions,
  ) {
    this.current = this.fresh(null);
  }

  /** What the last validation of the current URL found, and when the next one is due. */
  get status(): UrlValidationStatus {
    return { ...this.current, lastResult: this.current.lastResult && { ...this.current.lastResult } };
  }

  /** The webhook URL was saved (set, changed or saved again): validate now and re-arm the timer. */
  saved(url: string | null): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.current = this.fresh(url);
    if (url && this.opts.automatic && !this.closed) this.automaticRun(url);
  }

  /** One validation of `url` (automatic or requested); its outcome becomes the status if `url` is still the target. */
  async run(url: string, plainToken = randomPlainToken()): Promise<UrlValidationResult> {
    const result = await this.validate(url, plainToken);
    if (!this.closed && this.current.url === url) {
      const at = Date.now();
      this.current.attempts++;
      this.current.lastAttemptAt = at;
      this.current.lastResult = { ok: result.ok, status: result.status, ...(result.error ? { error: result.error } : {}) };
      this.current.validated = result.ok;
      if (result.ok) {
        this.current.lastValidatedAt = at;
        this.current.consecutiveFailures = 0;
      } else this.current.consecutiveFailures++;
    }
    return result;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.current.nextAt = null;
  }

  /** Validate now and arm the next automatic run one interval later (the interval counts from each start). */
  private automaticRun(url: string): void {
    if (this.closed) return;
    this.current.nextAt = Date.now() + this.opts.intervalMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.automaticRun(url);
    }, this.opts.intervalMs);
    void this.run(url);
  }

  private fresh(url: string | null): UrlValidationStatus {
    return { url, automatic: this.opts.automatic, intervalMs: this.opts.intervalMs, validated: null, attempts: 0, consecutiveFailures: 0, lastAttemptAt: null, lastValidatedAt: null, lastResult: null, nextAt: null };
  }
}
