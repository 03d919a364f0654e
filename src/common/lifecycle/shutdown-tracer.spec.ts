import { BeforeApplicationShutdown, Injectable, Module, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ShutdownTracer } from './shutdown-tracer';

/** Its onApplicationShutdown waits until released (a close stuck on something that never settles). */
@Injectable()
class StuckCloser implements OnApplicationShutdown {
  release!: () => void;
  onApplicationShutdown(): Promise<void> {
    return new Promise((resolve) => (this.release = resolve));
  }
}

@Injectable()
class QuickCloser implements OnModuleDestroy, BeforeApplicationShutdown {
  readonly calls: string[] = [];
  onModuleDestroy(): void {
    this.calls.push('onModuleDestroy');
  }
  async beforeApplicationShutdown(): Promise<void> {
    this.calls.push('beforeApplicationShutdown');
  }
}

@Module({ providers: [StuckCloser, QuickCloser] })
class ClosingModule {}

describe('ShutdownTracer', () => {
  it('names the hook a close waits on, leaves the others working as before, and forgets a hook once it settles', async () => {
    const app = (await Test.createTestingModule({ imports: [ClosingModule] }).compile()).createNestApplication();
    await app.init();
    const tracer = new ShutdownTracer(app);
    expect(tracer.pending()).toEqual([]);

    const closing = app.close();
    const stuck = app.get(StuckCloser);
    // The close reaches the stuck hook (Nest awaits the earlier ones first).
    for (let i = 0; i < 100 && !stuck.release; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(tracer.pending()).toEqual([expect.stringMatching(/^ClosingModule\/StuckCloser\.onApplicationShutdown \(\d+ s\)$/)]);
    // The wrapped hooks still ran.
    expect(app.get(QuickCloser).calls).toEqual(['onModuleDestroy', 'beforeApplicationShutdown']);

    stuck.release();
    await closing;
    expect(tracer.pending()).toEqual([]);
  });
});
