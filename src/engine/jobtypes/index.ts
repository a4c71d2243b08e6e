/**
 * The job types an engine runs, by serviceId, and the built-in ones every Census has.
 */
import type { Collector } from '../../collectors/types.ts';
import type { SecretBox } from '../../core/secret-box.ts';
import { APPLICATION_INVENTORY, HYPERVISOR_INVENTORY, serverInventory } from './server-inventory.ts';
import { maintenance } from './maintenance.ts';
import type { JobType } from './types.ts';

export type { JobType, Plan, PlannedTask, Prepared, StartRequest, Summary, TaskOutcome, TaskRun, TaskToPrepare } from './types.ts';

export class JobTypes {
  private byService = new Map<string, JobType>();

  constructor(types: readonly JobType[]) {
    for (const t of types) {
      if (this.byService.has(t.serviceId)) throw new Error(`job type ${t.serviceId} is registered twice`);
      this.byService.set(t.serviceId, t);
    }
  }

  /** The type that runs jobs of `serviceId`; undefined for jobs Census cannot run. */
  get(serviceId: string): JobType | undefined {
    return this.byService.get(serviceId);
  }
}

export interface BuiltInOptions {
  collectors: ReadonlyMap<string, Collector>;
  secrets: SecretBox;
  /** Deadline of one server's inventory (ms), retries for what can be retried, first back-off. */
  taskTimeoutMs: number;
  retries: number;
  retryDelayMs: number;
  /** Login sessions idle this long are removed by maintenance. */
  loginIdleMs: number;
}

/** Application server and hypervisor inventory and maintenance: the system jobs' types (system-jobs.ts). */
export function builtInJobTypes(o: BuiltInOptions): JobType[] {
  const inventory = { collectors: o.collectors, secrets: o.secrets, timeoutMs: o.taskTimeoutMs, retries: o.retries, retryDelayMs: o.retryDelayMs };
  return [
    serverInventory(inventory, APPLICATION_INVENTORY),
    serverInventory(inventory, HYPERVISOR_INVENTORY),
    maintenance({ loginIdleMs: o.loginIdleMs }),
  ];
}
