/**
 * Workers (docs/sites.md): the processes that run tasks, each in one site, as /api/vadp lists
 * them (SPP's VADP proxies). Read-only: a worker registers itself (engine.init) and heartbeats.
 */
import type { Actor } from '../core/actor.ts';
import { notFound } from '../core/errors.ts';
import { workerState, type Worker, type WorkerState } from '../core/sites.ts';
import type { ServiceContext } from './context.ts';

export interface WorkerView extends Worker {
  siteName: string | null;
  /** Judged now from its last heartbeat and its lease (core/sites.ts). */
  status: WorkerState;
}

export function workerService(ctx: ServiceContext) {
  const { store } = ctx;

  async function view(workers: Worker[]): Promise<WorkerView[]> {
    const names = new Map((await store.sites.all()).map((s) => [s.id, s.name]));
    const now = Date.now();
    return workers.map((w) => ({ ...w, siteName: names.get(w.siteId) ?? null, status: workerState(w, now) }));
  }

  return {
    async list(_actor: Actor): Promise<WorkerView[]> {
      return view(await store.workers.all());
    },

    async get(_actor: Actor, id: number): Promise<WorkerView> {
      const w = await store.workers.get(id);
      if (!w) throw notFound('Worker', id);
      return (await view([w]))[0]!;
    },
  };
}

export type WorkerService = ReturnType<typeof workerService>;
