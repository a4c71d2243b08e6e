/**
 * Engine tests on one store dialect (inside a `describe.each(DIALECTS)`): `open()` a fresh store
 * and `start()` an engine on it with the job types under test, the system clock, no collectors
 * and an in-process queue. Both are stopped and removed after each test.
 */
import { afterEach } from 'vitest';
import { systemClock } from '../../src/core/clock.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import { Engine, type EngineOptions } from '../../src/engine/engine.ts';
import { InProcessQueue } from '../../src/engine/queue.ts';
import type { Store } from '../../src/store/index.ts';
import type { TestStore } from './stores.ts';

export function engineTests(openStore: () => Promise<TestStore>) {
  let t: TestStore | undefined;
  let engine: Engine | undefined;

  afterEach(async () => {
    await engine?.stop();
    engine = undefined;
    await t?.cleanup();
    t = undefined;
  });

  return {
    open: async (): Promise<TestStore> => (t = await openStore()),
    /** `concurrency`: the in-process queue's slots (default 2); the rest are the engine's own options. */
    start: async (store: Store, options: Partial<EngineOptions> & { concurrency?: number }): Promise<Engine> => {
      const { concurrency = 2, ...rest } = options;
      engine = new Engine({
        store, clock: systemClock, secrets: SecretBox.fromKey(Buffer.alloc(32, 3)), collectors: new Map(), queue: new InProcessQueue(concurrency), ...rest,
      });
      await engine.init();
      engine.start();
      return engine;
    },
  };
}
