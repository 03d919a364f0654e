import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BULL_BOARD_INSTANCE, BullBoardInstance, BullBoardModule } from '@bull-board/nestjs';
import { getQueueToken } from '@nestjs/bullmq';
import { Inject, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import { AppConfig } from '../config/app.config';
import { ALL_QUEUES } from '../jobs/queue-names';
import { BullBoardAccessMiddleware } from './bull-board-access.middleware';

export const BULL_BOARD_ROUTE = '/admin/queues';

/**
 * Adds every queue to the board (what BullBoardModule.forFeature does), with
 * BULL_BOARD_READ_ONLY read from config: the UI then hides its controls, and the
 * middleware refuses the changes anyway.
 */
@Injectable()
class BullBoardQueues implements OnModuleInit {
  constructor(
    private readonly moduleRef: ModuleRef,
    @Inject(BULL_BOARD_INSTANCE) private readonly board: BullBoardInstance,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  onModuleInit(): void {
    const readOnlyMode = this.config.get('bullBoard', { infer: true }).readOnly;
    for (const name of ALL_QUEUES) {
      const queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      this.board.addQueue(new BullMQAdapter(queue, { readOnlyMode }));
    }
  }
}

/** Bull Board for every queue, behind admin Basic auth and CSRF rules (API processes only). */
@Module({
  imports: [
    BullBoardModule.forRoot({
      route: BULL_BOARD_ROUTE,
      adapter: ExpressAdapter,
      middleware: BullBoardAccessMiddleware,
      boardOptions: { uiConfig: { boardTitle: 'RTMS Hub queues' } },
    }),
  ],
  providers: [BullBoardQueues],
})
export class AdminModule {}
