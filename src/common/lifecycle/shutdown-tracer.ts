import type { INestApplicationContext } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';

const HOOKS = ['onModuleDestroy', 'beforeApplicationShutdown', 'onApplicationShutdown'] as const;

/**
 * Tracks an app's shutdown hooks while it closes, so a close that hangs can say which
 * provider's hook it is waiting on (Nest itself only awaits them, silently): the
 * process's shutdown deadline logs it, and the e2e teardown. Every provider's hook is
 * wrapped in place when the tracer is made (just before `app.close()`); `pending()` names
 * those started and not yet settled, as `Module/Provider.hook (seconds)`.
 */
export class ShutdownTracer {
  private readonly running = new Map<string, number>();

  constructor(app: Pick<INestApplicationContext, 'get'>) {
    const modules = app.get(ModulesContainer, { strict: false });
    for (const mod of modules.values()) {
      for (const wrapper of [...mod.providers.values(), ...mod.controllers.values(), ...mod.injectables.values()]) {
        const instance = wrapper.instance as Record<string, unknown> | undefined;
        if (!instance || typeof instance !== 'object') continue;
        for (const hook of HOOKS) this.wrap(instance, hook, `${mod.metatype?.name ?? '?'}/${instance.constructor?.name ?? String(wrapper.name)}.${hook}`);
      }
    }
  }

  /** Hooks started and not yet settled, with how long each has run. */
  pending(): string[] {
    const now = Date.now();
    return [...this.running].map(([name, since]) => `${name} (${Math.round((now - since) / 1000)} s)`);
  }

  private wrap(instance: Record<string, unknown>, hook: string, name: string): void {
    const original = instance[hook];
    if (typeof original !== 'function') return;
    const running = this.running;
    instance[hook] = function (this: unknown, ...args: unknown[]) {
      running.set(name, Date.now());
      let result: unknown;
      try {
        result = (original as (...a: unknown[]) => unknown).apply(this, args);
      } catch (err) {
        running.delete(name);
        throw err;
      }
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        return (result as Promise<unknown>).finally(() => running.delete(name));
      }
      running.delete(name);
      return result;
    };
  }
}
