import type { ConfigService } from '@nestjs/config';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../../config/app.config';
import type { AppEventRetentionService } from '../../app-events';
import type { WebhookMessageRetentionService } from '../../app-webhooks';
import type { SessionRetentionService, SessionsService } from '../../sessions';
import type { FinishedDispatch, RoomDispatchRetentionService } from '../../zoom-rooms';
import { AgePruneService } from './age-prune.service';

/**
 * The room-dispatch part of the age-based prune: pages of finished dispatches, oldest
 * first, in batches; a dispatch with a room job still to run is kept and passed (not read
 * again), the rest deleted. The other stores are off here (0 days, no sequence left).
 */
describe('AgePruneService: finished room dispatches', () => {
  const dispatch = (n: number): FinishedDispatch => ({ id: `d${n}`, round: 1, updatedAt: `2026-01-01 00:00:${String(n).padStart(2, '0')}.123456+00` });

  function setup(opts: { rows: FinishedDispatch[]; pending?: string[]; days?: number; batchSize?: number; stopAfter?: number }) {
    const deleted: string[][] = [];
    const afters: Array<string | null> = [];
    const roomDispatches = {
      findFinishedOlderThan: async (_days: number, after: FinishedDispatch | null, limit: number) => {
        afters.push(after?.id ?? null);
        const from = after ? opts.rows.findIndex((r) => r.id === after.id) + 1 : 0;
        return opts.rows.slice(from, from + limit);
      },
      withPendingJob: async (page: FinishedDispatch[]) => new Set(page.map((d) => d.id).filter((id) => opts.pending?.includes(id))),
      deleteFinishedOlderThan: async (ids: string[], days: number) => {
        expect(days).toBe(opts.days ?? 30);
        deleted.push(ids);
        return ids.length;
      },
    } as unknown as RoomDispatchRetentionService;
    const retention = { unlinkedEventsDays: 0, appEventsDays: 0, webhookMessagesDays: 0, roomDispatchesDays: opts.days ?? 30, batchSize: opts.batchSize ?? 2 };
    const config = { get: () => retention } as unknown as ConfigService<AppConfig, true>;
    const appEvents = { findIdleSequences: async () => [] } as unknown as AppEventRetentionService;
    const service = new AgePruneService(
      {} as SessionRetentionService,
      {} as SessionsService,
      appEvents,
      {} as WebhookMessageRetentionService,
      roomDispatches,
      config,
      {} as DataSource,
    );
    const stop = () => opts.stopAfter !== undefined && deleted.length >= opts.stopAfter;
    return { prune: () => service.prune(stop), deleted, afters };
  }

  it('deletes every finished dispatch in batches, passing over those with a room job still to run', async () => {
    const rows = [1, 2, 3, 4, 5].map(dispatch);
    const { prune, deleted, afters } = setup({ rows, pending: ['d2', 'd4'] });
    expect(await prune()).toEqual({ room_dispatches: 3 });
    expect(deleted).toEqual([['d1'], ['d3'], ['d5']]);
    // Keyset: each page starts after the last one read, kept or not; a short page ends the pass.
    expect(afters).toEqual([null, 'd2', 'd4']);
  });

  it('asks for the next page after a full one, and stops at an empty page', async () => {
    const { prune, afters } = setup({ rows: [1, 2, 3, 4].map(dispatch) });
    expect(await prune()).toEqual({ room_dispatches: 4 });
    expect(afters).toEqual([null, 'd2', 'd4']);
  });

  it('counts nothing when every old dispatch is kept back', async () => {
    const { prune, deleted } = setup({ rows: [1, 2].map(dispatch), pending: ['d1', 'd2'], batchSize: 5 });
    expect(await prune()).toEqual({});
    expect(deleted).toEqual([[]]);
  });

  it('keeps finished dispatches for ever at 0 days', async () => {
    const { prune, afters } = setup({ rows: [1, 2].map(dispatch), days: 0 });
    expect(await prune()).toEqual({});
    expect(afters).toEqual([]);
  });

  it('stops between batches when asked (shutdown, a lost lease)', async () => {
    const { prune, deleted } = setup({ rows: [1, 2, 3, 4, 5].map(dispatch), stopAfter: 1 });
    expect(await prune()).toEqual({ room_dispatches: 2 });
    expect(deleted).toEqual([['d1', 'd2']]);
  });
});
