import { Module } from '@nestjs/common';

/** Stream workers' (and the app-event fan-out's) side of live delivery: writes the text log and publishes media while someone listens. */
@Module({})
export class LivePublisherModule {}
