import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type Redis from 'ioredis';
import type { MetricsService } from '../../../common/metrics/metrics.service';
import type { AppConfig } from '../../../config/app.config';
import type { JobProducer } from '../../../jobs/job-producer.service';
import type { MediaStorage } from './media-storage';
import { StorageHealth } from './storage-health.service';
import type { StoragePendingLedger } from './storage-pending';

/** The boot check: the storage location must take a write and a delete (docs/storage.md). */
describe('StorageHealth.checkAtBoot', () => {
  const gauge = { set: jest.fn() };
  const metrics = { gauge: () => gauge } as unknown as MetricsService;
  const config = {
    get: (k: string) => (k === 'storage' ? { outageLogIntervalMs: 30000, probeCacheMs: 10000 } : { prefix: 'test' }),
  } as unknown as ConfigService<AppConfig, true>;
  const ledger = { totals: async () => ({ items: {}, bytes: 0, bytesByKind: {}, jobs: 0, since: null }) } as unknown as StoragePendingLedger;

  function storage(fail: 'put' | 'delete' | null): MediaStorage & { calls: string[] } {
    const calls: string[] = [];
    return {
      driver: 's3',
      calls,
      put: async (key: string) => {
        calls.push(`put ${key}`);
        if (fail === 'put') throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
        return { bytes: 1, sha256: 'x' };
      },
      delete: async (key: string) => {
        calls.push(`delete ${key}`);
        if (fail === 'delete') throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      },
      get: jest.fn(),
      stat: jest.fn(),
      deletePrefix: jest.fn(),
      locate: (key: string) => `s3://bucket/hub/${key}`,
    } as unknown as MediaStorage & { calls: string[] };
  }

  const health = (s: MediaStorage) => new StorageHealth(s, {} as Redis, ledger, {} as JobProducer, config, metrics);

  afterEach(() => jest.restoreAllMocks());

  it('writes and deletes a probe object under .rtms-hub-health/ and says the location is usable', async () => {
    const s = storage(null);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    await expect(health(s).checkAtBoot()).resolves.toBe(true);
    expect(s.calls).toHaveLength(2);
    expect(s.calls[0]).toMatch(/^put \.rtms-hub-health\/probe-/);
    expect(s.calls[1]).toBe(s.calls[0].replace('put', 'delete'));
    expect(log).toHaveBeenCalledWith(expect.stringContaining('s3://bucket/hub'));
  });

  it.each(['put', 'delete'] as const)('a location that refuses the %s: one clear error at boot, and readiness reports storage down', async (fail) => {
    const s = storage(fail);
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const h = health(s);
    await expect(h.checkAtBoot()).resolves.toBe(false);
    expect(error).toHaveBeenCalledTimes(1);
    const message = String(error.mock.calls[0][0]);
    expect(message).toContain('Storage (s3) at s3://bucket/hub cannot be written and deleted at boot');
    expect(message).toContain('Access Denied');
    expect(message).toContain('S3_*');
    // The boot probe's result is what readiness reports (cached: no second probe).
    const calls = s.calls.length;
    await expect(h.readiness()).resolves.toMatchObject({ status: 'down', driver: 's3' });
    expect(s.calls).toHaveLength(calls);
    expect(gauge.set).toHaveBeenLastCalledWith(0);
  });
});
