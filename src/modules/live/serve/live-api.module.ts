import { Module } from '@nestjs/common';

/** API processes' side of live delivery: the WebSocket and SSE endpoints and their fan-out from Redis. */
@Module({})
export class LiveApiModule {}
