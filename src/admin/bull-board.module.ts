import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule } from '@bull-board/nestjs';
import { Module } from '@nestjs/common';
import { AdminAuthMiddleware } from '../common/auth/admin-auth.middleware';
import { ALL_QUEUES } from '../jobs/queue-names';

export const BULL_BOARD_ROUTE = '/admin/queues';

/** Bull Board for every queue, behind admin Basic auth (API processes only). */
@Module({
  imports: [
    BullBoardModule.forRoot({
      route: BULL_BOARD_ROUTE,
      adapter: ExpressAdapter,
      middleware: AdminAuthMiddleware,
      boardOptions: { uiConfig: { boardTitle: 'RTMS Hub queues' } },
    }),
    ...ALL_QUEUES.map((name) => BullBoardModule.forFeature({ name, adapter: BullMQAdapter })),
  ],
})
export class AdminModule {}
