import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { MetricsService } from '../../../common/metrics/metrics.service';
import type { ComposeResult } from '../engine/compose-types';

/** The compose job's metrics (docs/operations.md): how long, how much CPU, how often it fails, what crashed workers left behind. */
@Injectable()
export class ComposeMetrics {
  private readonly duration: Histogram;
  private readonly cpuRatio: Histogram;
  private readonly recorded: Counter;
  private readonly failures: Counter<'code'>;
  private readonly workDirsSwept: Counter;
  private readonly workDirBytesSwept: Counter;

  constructor(metrics: MetricsService) {
    this.duration = metrics.histogram({
      name: 'rtms_hub_compose_duration_seconds',
      help: 'Wall time of a recording composition (download, ffmpeg, upload)',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    });
    this.cpuRatio = metrics.histogram({
      name: 'rtms_hub_compose_cpu_ratio',
      help: "ffmpeg CPU time per second of recording (0.1 = 10 % of one core for the meeting's length)",
      buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    });
    this.recorded = metrics.counter({ name: 'rtms_hub_compose_recorded_seconds_total', help: 'Seconds of recordings composed' });
    this.failures = metrics.counter({ name: 'rtms_hub_compose_failures_total', help: 'Recording compositions that failed for good, by recording_error code', labelNames: ['code'] });
    this.workDirsSwept = metrics.counter({ name: 'rtms_hub_compose_work_dirs_removed_total', help: 'Compose work folders left by a compose worker that is gone (killed, crashed), removed by a sweep' });
    this.workDirBytesSwept = metrics.counter({ name: 'rtms_hub_compose_work_dir_removed_bytes_total', help: 'Bytes in the compose work folders removed by a sweep' });
  }

  composed(result: ComposeResult, wallMs: number): void {
    this.duration.observe(wallMs / 1000);
    if (result.durationMs > 0) this.cpuRatio.observe(result.cpuMs / result.durationMs);
    this.recorded.inc(result.durationMs / 1000);
  }

  failed(code: string): void {
    this.failures.inc({ code });
  }

  workDirsRemoved(dirs: number, bytes: number): void {
    this.workDirsSwept.inc(dirs);
    this.workDirBytesSwept.inc(bytes);
  }
}
