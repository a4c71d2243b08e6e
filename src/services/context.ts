/** What the services share: the store, the engine, the clock, the secret box and what each collector is. */
import type { Clock } from '../core/clock.ts';
import type { CollectorInfo } from '../core/collector-info.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Engine } from '../engine/engine.ts';
import type { Store } from '../store/index.ts';

export interface ServiceContext {
  store: Store;
  engine: Engine;
  clock: Clock;
  secrets: SecretBox;
  /** The application types Census can inventory (src/collectors/registry.ts, handed over by main.ts). */
  collectors: readonly CollectorInfo[];
}
