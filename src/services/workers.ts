/**
 * Workers (docs/sites.md): the processes that run tasks, each in one site, as /api/vadp lists
 * them (SPP's VADP proxies). Read-only: a worker registers itself (engine.init) and heartbeats.
 */
import type { Actor } from '../core/actor.ts';
import { notFound } from '../core/errors.ts';
import { earlierOnHost, workerState, type Worker, type WorkerState } from '../core/sites.ts';
import type { ServiceContext } from './context.ts';

export interface WorkerView extends Worker {
  siteName: string | null;
  /** Judged now from its last heartbeat and its lease (core/sites.ts). */
  status: WorkerState;
  /** While it is live: the earlier live worker of its site on its machine, whose CPUs it shares (core/sites.ts, earlierOnHost). */
  sharesMachineWith: number | null;
}

export function workerService(ctx: ServiceContext) {
  const { store } = ctx;

  /** `workers` as shown, judged against every worker (`all`): the one it shares its machine with may not be among them. */
  async function view(workers: Worker[], all: Worker[]): Promise<WorkerView[]> {
    const names = new Map((await store.sites.all()).map((s) => [s.id, s.name]));
    const now = Date.now();
    const live = all.filter((w) => workerState(w, now) === 'ENABLED');
    return workers.map((w) => {
      const status = workerState(w, now);
      const earlier = status === 'ENABLED' ? earlierOnHost(w, live) : undefined;
      return { ...w, siteName: names.get(w.siteId) ?? null, status, sharesMachineWith: earlier?.id ?? null };
    });
  }

  return {
    async list(_actor: Actor): Promise<WorkerView[]> {
      const all = await store.workers.all();
      return view(all, all);
    },

    async get(_actor: Actor, id: number): Promise<WorkerView> {
      const all = await store.workers.all();
      const w = all.find((x) => x.id === id);
      if (!w) throw notFound('Worker', id);
      return (await view([w], all))[0]!;
    },
  };
}

export type WorkerService = ReturnType<typeof workerService>;
