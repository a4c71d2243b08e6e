/**
 * Application Server Inventory (job 1004): one task per registered application server, or per
 * server asked for; a start that names servers while the job runs adds the missing ones to the
 * running session. Its session reports servers done and failed, and the objects that changed.
 */
import { describeChanges } from '../../core/inventory-diff.ts';
import type { ScopeEntry, SessionStatistic } from '../../core/types.ts';
import type { Repositories } from '../../store/index.ts';
import { message } from '../messages.ts';
import { APPLICATION_INVENTORY_SERVICE } from '../system-jobs.ts';
import { runInventoryTask, type InventorySettings } from './inventory-task.ts';
import type { JobType, Plan } from './types.ts';

export const APPSERVER_TARGET = 'appserver';

export function applicationInventory(settings: InventorySettings): JobType {
  return {
    serviceId: APPLICATION_INVENTORY_SERVICE,

    async plan(r, _job, req) {
      const plan = await servers(r, req.appserverIds);
      plan.messages = plan.scope!.length
        ? [message('INFO', 'CNSJ0002', plan.scope!.length, plan.scope!.map((s) => s.name).join(', '))]
        : [message('INFO', 'CNSJ0003')];
      return plan;
    },

    async join(r, _job, running, req) {
      if (!req.appserverIds?.length) return { tasks: [] };
      const have = new Set((await r.tasks.bySession(running.id)).map((t) => t.appserverId));
      const plan = await servers(r, req.appserverIds.filter((id) => !have.has(id)));
      plan.messages = plan.scope!.map((s) => message('INFO', 'CNSJ0006', s.name, req.trigger));
      return plan;
    },

    run: (t) => runInventoryTask(settings, t),

    async summarise(r, session, p) {
      const statistics: SessionStatistic[] = [
        { resourceType: APPSERVER_TARGET, total: p.total, success: p.completed, failed: p.failed, skipped: p.cancelled },
        ...(await changeStatistics(r, session.id)),
      ];
      const messages = p.completed > 0 ? [message('SUMMARY', 'CNSJ0011', describeChanges(await r.inventory.sessionChanges(session.id)))] : [];
      return { statistics, messages };
    },
  };
}

/** One task per server (all, or those in `ids`), in the order the store lists them. */
async function servers(r: Repositories, ids?: number[]): Promise<Plan> {
  let all = await r.appservers.all();
  if (ids) all = all.filter((s) => ids.includes(s.id));
  return {
    tasks: all.map((s) => ({ name: s.name, targetKind: APPSERVER_TARGET, targetId: String(s.id) })),
    scope: all.map((s): ScopeEntry => ({ resourceType: APPSERVER_TARGET, id: s.id, name: s.name })),
  };
}

/**
 * The session's change counts as SPP-style statistics entries, one per object type:
 * `total` = objects that changed in any way, plus the counts by kind of change.
 */
async function changeStatistics(r: Repositories, sessionId: number): Promise<SessionStatistic[]> {
  const counts = await r.inventory.changeCounts(sessionId);
  const types = [...new Set(counts.map((c) => c.objectType))].sort();
  return types.map((objectType) => {
    const n = (change: string) => counts.find((c) => c.objectType === objectType && c.change === change)?.n ?? 0;
    const appeared = n('appeared') + n('reappeared');
    return {
      resourceType: objectType, total: appeared + n('disappeared') + n('changed'), success: 0, failed: 0, skipped: 0,
      appeared, disappeared: n('disappeared'), changed: n('changed'),
    };
  });
}
