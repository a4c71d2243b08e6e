/**
 * Sites and workers (docs/sites.md): a site is a place; application servers, hypervisors and the
 * processes that run tasks (workers) each belong to one. A worker takes the tasks of its own
 * site's servers. Pure: the store keeps the rows, the engine routes tasks by them.
 */

/** SPP's default site, made by migration 9; it cannot be deleted. */
export const DEFAULT_SITE_ID = 1000;
export const DEFAULT_SITE_NAME = 'Primary';

export interface Site {
  id: number;
  name: string;
  description: string;
  defaultSite: boolean;
  /** When no live worker is in this site, any worker may take its tasks (Census's own setting). */
  allowAnyWorker: boolean;
  createdAt: number;
}

export interface Worker {
  id: number;
  /** Host name. */
  name: string;
  address: string | null;
  siteId: number;
  version: string;
  pid: number;
  /** Its name as the owner of the tasks it runs. */
  owner: string;
  /** Without a heartbeat for this long it counts as dead (its tasks are taken from it then too). */
  leaseMs: number;
  startedAt: number;
  lastSeenAt: number;
  /** What it said last: 'RUNNING' or 'STOPPED'. */
  state: 'RUNNING' | 'STOPPED';
  /**
   * While it shares its machine with an earlier worker (earlierOnHost), it takes tasks only while
   * the machine's CPUs are less busy than this percent (100: as if alone); null: it never holds
   * back (the embedded default's one process, or a row written before Census kept this).
   */
  sharedCpu: number | null;
}

/**
 * The live worker of `w`'s site on `w`'s machine (by host name) that started before it, the
 * earliest, if any: while there is one, `w` shares the machine's CPUs with it and takes tasks only
 * while they have room (engine/pgboss-queue.ts). `live` are the site's workers that heartbeat.
 */
export function earlierOnHost(w: Pick<Worker, 'id' | 'name' | 'siteId'>, live: readonly Worker[]): Worker | undefined {
  return live.filter((o) => o.siteId === w.siteId && o.name === w.name && o.id < w.id).sort((a, b) => a.id - b.id)[0];
}

/**
 * A worker as SPP shows a proxy's state: ENABLED while it heartbeats, DEAD once its last
 * heartbeat is older than its lease (killed, hung or cut off from the database: it cannot
 * tell which, and its tasks are given to others at that point either way), STOPPED after a
 * clean stop.
 */
export type WorkerState = 'ENABLED' | 'DEAD' | 'STOPPED';

export function workerState(w: Pick<Worker, 'state' | 'lastSeenAt' | 'leaseMs'>, now: number): WorkerState {
  if (w.state === 'STOPPED') return 'STOPPED';
  return now - w.lastSeenAt > w.leaseMs ? 'DEAD' : 'ENABLED';
}
