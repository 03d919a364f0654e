import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { AppConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { PgAudioPartStore } from './audio-part.store';
import { AudioSpool, AudioStreamInfo, AudioSpoolStream } from './audio-spool';

/** The worker process's audio spool (audio-spool.ts), wired to Postgres, the savers and the metrics. */
@Injectable()
export class AudioSpoolService implements OnApplicationShutdown {
  private readonly logger = new Logger(AudioSpoolService.name);
  private readonly spool: AudioSpool;

  constructor(@InjectDataSource() db: DataSource, producer: JobProducer, metrics: MetricsService, config: ConfigService<AppConfig, true>) {
    const ingest = config.get('rtms', { infer: true }).ingest;
    const saved = metrics.counter({ name: 'rtms_hub_media_saved_total', help: 'Media items saved', labelNames: ['kind'] }).labels('audio');
    const latency = metrics
      .histogram({ name: 'rtms_hub_media_save_latency_seconds', help: 'Receive-to-storage latency', labelNames: ['kind'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] })
      .labels('audio');
    const discarded = metrics.counter({ name: 'rtms_hub_audio_discarded_total', help: 'Audio packets that will not be stored, by reason', labelNames: ['reason'] });
    const late = metrics.counter({ name: 'rtms_hub_audio_late_packets_total', help: 'Audio packets that arrived after their segment was sealed' });
    const failures = metrics.counter({ name: 'rtms_hub_audio_spool_flush_failures_total', help: 'Audio spool writes that failed (retried)' });
    const flushSeconds = metrics.histogram({ name: 'rtms_hub_audio_spool_flush_seconds', help: 'Duration of one audio spool write (all streams of the process)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    const flushPackets = metrics.histogram({ name: 'rtms_hub_audio_spool_flush_packets', help: 'Audio packets per spool write', buckets: [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000] });
    let failuresLogged = 0;
    this.spool = new AudioSpool(
      new PgAudioPartStore(db),
      {
        segmentsDue: async (ids) => {
          await producer.enqueueBulk(
            JobName.AudioSegmentSave,
            ids.map((segmentId) => ({ data: { segmentId } })),
          );
        },
        saved: (packets, now) => {
          saved.inc(packets.length);
          for (const p of packets) latency.observe(Math.max(0, now - p.receivedAt) / 1000);
        },
        discarded: (reason, n) => discarded.inc({ reason }, n),
        late: (n) => late.inc(n),
        flushed: (ms, packets) => {
          flushSeconds.observe(ms / 1000);
          flushPackets.observe(packets);
        },
        flushFailed: (err) => {
          failures.inc();
          if (failuresLogged++ % 50 === 0) this.logger.warn(`Audio spool write failed (${this.spool.bufferedBytes} bytes waiting; retrying): ${err instanceof Error ? err.message : String(err)}`);
        },
      },
      {
        flushMs: ingest.audioFlushMs,
        flushBytes: 8 * 1024 * 1024,
        maxBufferedBytes: ingest.audioSpoolMaxBytes,
        touchEveryMs: Math.max(100, Math.floor(config.get('storage', { infer: true }).audioIdleFinalizeMs / 4)),
      },
    );
    const spool = this.spool;
    metrics.gauge({
      name: 'rtms_hub_audio_spool_bytes',
      help: 'PCM waiting in this process for its database write',
      collect(this: Gauge) {
        this.set(spool.bufferedBytes);
      },
    });
  }

  open(info: AudioStreamInfo): AudioSpoolStream {
    return this.spool.open(info);
  }

  flush(): Promise<boolean> {
    return this.spool.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.spool.close();
  }
}
