import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ReadinessCheckResult } from '../../../common/health/readiness-checks';
import { AppConfig } from '../../../config/app.config';
import { FfmpegProbe, probeFfmpeg } from '../engine/ffmpeg-probe';

/** Replaces the probe (tests: a missing ffmpeg). */
export const FFMPEG_PROBE = Symbol('FFMPEG_PROBE');

/** How long a probe result is reused by readiness (ffmpeg does not come and go often). */
const PROBE_CACHE_MS = 60_000;

/**
 * ffmpeg on a process that composes recordings: checked at boot (a clear error when it is
 * missing and composition is enabled) and reported by /health/ready as `ffmpeg`
 * (degraded, not down: the process still does the rest of its work, and compose jobs
 * fail with recording_error ffmpeg_missing).
 */
@Injectable()
export class FfmpegHealth {
  private readonly logger = new Logger(FfmpegHealth.name);
  private cache?: { at: number; probe: Promise<FfmpegProbe> };
  private readonly composeEnabled: boolean;
  private readonly probe: () => Promise<FfmpegProbe>;
  private readonly paths: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Optional() @Inject(FFMPEG_PROBE) probe?: () => Promise<FfmpegProbe>,
  ) {
    const paths = config.get('composeEngine', { infer: true });
    this.probe = probe ?? (() => probeFfmpeg(paths));
    this.paths = `${paths.ffmpegPath}, ${paths.ffprobePath}`;
    this.composeEnabled = config.get('recordings', { infer: true }).compose;
  }

  private current(): Promise<FfmpegProbe> {
    if (!this.cache || Date.now() - this.cache.at > PROBE_CACHE_MS) this.cache = { at: Date.now(), probe: this.probe() };
    return this.cache.probe;
  }

  async checkAtBoot(): Promise<FfmpegProbe> {
    const p = await this.current();
    if (p.ok) this.logger.log(`ffmpeg ${p.version} (${this.paths}) composes recordings`);
    else if (this.composeEnabled)
      this.logger.error(
        `ffmpeg is missing (${p.reason}): recordings cannot be composed and every compose job will fail with ffmpeg_missing. Install ffmpeg with libx264, aac and libopus (Debian: apt-get install ffmpeg) or set FFMPEG_PATH / FFPROBE_PATH; COMPOSE_RECORDINGS=false turns composition off.`,
      );
    else this.logger.warn(`ffmpeg is missing (${p.reason}); composition is off (COMPOSE_RECORDINGS=false) unless a session asks for it`);
    return p;
  }

  async readiness(): Promise<ReadinessCheckResult> {
    const p = await this.current();
    return p.ok
      ? { status: 'up', ffmpeg: 'ok', version: p.version, ffprobe_version: p.ffprobeVersion }
      : { status: 'down', ffmpeg: 'missing', reason: p.reason, compose_enabled: this.composeEnabled };
  }
}
