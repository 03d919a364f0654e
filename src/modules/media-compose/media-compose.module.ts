import { DynamicModule, Module, OnApplicationBootstrap, Provider } from '@nestjs/common';
import { ReadinessChecks } from '../../common/health/readiness-checks';
import { ComposeMetrics } from './compose/compose-metrics';
import { RecordingComposer } from './compose/recording-composer.service';
import { COMPOSE_ENGINE } from './engine/compose-engine.token';
import type { ComposeEngine } from './engine/compose-types';
import { FfmpegHealth } from './health/ffmpeg-health';
import { MediaComposeCoreModule } from './media-compose-core.module';

/**
 * The compose workers (processes that consume `media-compose`): the job, the engine,
 * its metrics, and ffmpeg's presence at boot and in /health/ready.
 */
@Module({
  imports: [MediaComposeCoreModule],
  providers: [RecordingComposer, ComposeMetrics, FfmpegHealth],
  exports: [RecordingComposer],
})
export class MediaComposeModule implements OnApplicationBootstrap {
  constructor(
    private readonly ffmpeg: FfmpegHealth,
    private readonly readiness: ReadinessChecks,
  ) {}

  /** The module with another engine (tests: a fake that needs no ffmpeg). */
  static withEngine(engine: ComposeEngine): DynamicModule {
    const provider: Provider = { provide: COMPOSE_ENGINE, useValue: engine };
    return { module: MediaComposeModule, providers: [provider] };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.readiness.register('ffmpeg', () => this.ffmpeg.readiness());
    await this.ffmpeg.checkAtBoot();
  }
}
