import { DynamicModule, Module, OnApplicationBootstrap, Provider } from '@nestjs/common';
import { ReadinessChecks } from '../../common/health/readiness-checks';
import { ComposeLeases } from './compose/compose-lease';
import { ComposeMetrics } from './compose/compose-metrics';
import { ComposeWorkDirs } from './compose/compose-work-dirs';
import { RecordingComposer } from './compose/recording-composer.service';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../config/app.config';
import { COMPOSE_ENGINE, PARTICIPANT_AUDIO_ENCODER } from './engine/compose-engine.token';
import type { ComposeEngine } from './engine/compose-types';
import { FfmpegComposeEngine, type ParticipantAudioEncoder } from './engine/ffmpeg-compose-engine';
import { FfmpegHealth } from './health/ffmpeg-health';
import { MediaComposeCoreModule } from './media-compose-core.module';

/**
 * The compose workers (processes that consume `media-compose`): the job, the engine,
 * its metrics, its work folders (swept of those killed workers left), and ffmpeg's
 * presence at boot and in /health/ready.
 */
@Module({
  imports: [MediaComposeCoreModule],
  providers: [
    RecordingComposer,
    ComposeMetrics,
    // One composition of a session at a time, hub-wide.
    ComposeLeases,
    FfmpegHealth,
    // Each compose's private folder under COMPOSE_WORK_DIR, and the sweep of those left by killed workers.
    {
      provide: ComposeWorkDirs,
      inject: [ConfigService, ComposeMetrics],
      useFactory: (config: ConfigService<AppConfig, true>, metrics: ComposeMetrics) => new ComposeWorkDirs(config.get('recordings', { infer: true }).workDir, metrics),
    },
    // The ffmpeg engine builds recording.mp4 and the per-participant Opus files (FFMPEG_PATH, FFPROBE_PATH, COMPOSE_VIDEO_*).
    { provide: FfmpegComposeEngine, inject: [ConfigService], useFactory: (config: ConfigService<AppConfig, true>) => FfmpegComposeEngine.fromConfig(config.get('composeEngine', { infer: true })) },
    { provide: COMPOSE_ENGINE, useExisting: FfmpegComposeEngine },
    { provide: PARTICIPANT_AUDIO_ENCODER, useExisting: FfmpegComposeEngine },
  ],
  exports: [RecordingComposer],
})
export class MediaComposeModule implements OnApplicationBootstrap {
  constructor(
    private readonly ffmpeg: FfmpegHealth,
    private readonly readiness: ReadinessChecks,
  ) {}

  /** The module with another engine and participant-audio encoder (tests: fakes that need no ffmpeg); they replace the ffmpeg ones. */
  static withEngine(engine: ComposeEngine, participantEncoder?: ParticipantAudioEncoder): DynamicModule {
    const providers: Provider[] = [{ provide: COMPOSE_ENGINE, useValue: engine }];
    if (participantEncoder) providers.push({ provide: PARTICIPANT_AUDIO_ENCODER, useValue: participantEncoder });
    return { module: MediaComposeModule, providers };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.readiness.register('ffmpeg', () => this.ffmpeg.readiness());
    await this.ffmpeg.checkAtBoot();
  }
}
