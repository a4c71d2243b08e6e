/**
 * The inventory of registered servers, one job type for both of SPP's inventory jobs: the
 * Application Server Inventory (job 1004) and the Hypervisor Inventory (job 1005). Each covers
 * one part of the registered servers, told apart by their type (core/hypervisors.ts): the
 * application job never picks up a hypervisor and the hypervisor job never an application server.
 * One task per server, or per server asked for; a start that names servers while the job runs
 * adds the missing ones to the running session. Its session reports servers done and failed,
 * and the objects that changed.
 */
import type { CollectorInfo } from '../../core/collector-info.ts';
import { isHypervisorType } from '../../core/hypervisors.ts';
import { describeChanges } from '../../core/inventory-diff.ts';
import type { ScopeEntry, SessionStatistic } from '../../core/types.ts';
import type { Repositories } from '../../store/index.ts';
import { message, type MessageId } from '../messages.ts';
import { APPLICATION_INVENTORY_SERVICE, HYPERVISOR_INVENTORY_SERVICE } from '../system-jobs.ts';
import { APPSERVER_MESSAGES, HYPERVISOR_MESSAGES, prepareInventoryTask, runInventoryTask, SessionShares, type InventorySettings, type TaskMessages } from './inventory-task.ts';
import type { JobType, Plan } from './types.ts';

/** Tasks of both jobs target a server row (SPP's task shape and the resource-group filters read appserverId). */
export const APPSERVER_TARGET = 'appserver';

/** What sets one inventory job apart from the other. */
export interface ServerInventoryKind {
  serviceId: string;
  /** Which servers it covers: those whose collector is of the hypervisors group, or all the others. */
  group: 'applications' | 'hypervisors';
  /** What SPP's scope and statistics call one server. */
  resourceType: string;
  session: { covers: MessageId; none: MessageId; added: MessageId };
  task: TaskMessages;
}

export const APPLICATION_INVENTORY: ServerInventoryKind = {
  serviceId: APPLICATION_INVENTORY_SERVICE, group: 'applications', resourceType: 'appserver',
  session: { covers: 'CNSJ0002', none: 'CNSJ0003', added: 'CNSJ0006' }, task: APPSERVER_MESSAGES,
};

export const HYPERVISOR_INVENTORY: ServerInventoryKind = {
  serviceId: HYPERVISOR_INVENTORY_SERVICE, group: 'hypervisors', resourceType: 'hypervisor',
  session: { covers: 'CNSJ0014', none: 'CNSJ0015', added: 'CNSJ0016' }, task: HYPERVISOR_MESSAGES,
};

export function serverInventory(common: InventorySettings, kind: ServerInventoryKind): JobType {
  const settings: InventorySettings = { ...common, shares: new SessionShares() };
  const infos: CollectorInfo[] = [...settings.collectors.values()].map((c) => c.info);
  const covers = (applicationType: string) => isHypervisorType(applicationType, infos) === (kind.group === 'hypervisors');

  /** One task per server this job covers (all, or those in `ids`), in the order the store lists them. */
  async function servers(r: Repositories, ids?: number[]): Promise<Plan> {
    let all = (await r.appservers.all()).filter((s) => covers(s.applicationType));
    if (ids) all = all.filter((s) => ids.includes(s.id));
    return {
      tasks: all.map((s) => ({ name: s.name, targetKind: APPSERVER_TARGET, targetId: String(s.id) })),
      scope: all.map((s): ScopeEntry => ({ resourceType: kind.resourceType, id: s.id, name: s.name })),
    };
  }

  return {
    serviceId: kind.serviceId,

    async plan(r, _job, req) {
      const plan = await servers(r, req.appserverIds);
      plan.messages = plan.scope!.length
        ? [message('INFO', kind.session.covers, plan.scope!.length, plan.scope!.map((s) => s.name).join(', '))]
        : [message('INFO', kind.session.none)];
      return plan;
    },

    async join(r, _job, running, req) {
      if (!req.appserverIds?.length) return { tasks: [] };
      const have = new Set((await r.tasks.bySession(running.id)).map((t) => t.appserverId));
      const plan = await servers(r, req.appserverIds.filter((id) => !have.has(id)));
      plan.messages = plan.scope!.map((s) => message('INFO', kind.session.added, s.name, req.trigger));
      return plan;
    },

    prepare: (t) => prepareInventoryTask(settings, t, kind.task),
    run: (t) => runInventoryTask(settings, t, kind.task),

    async summarise(r, session, p) {
      const statistics: SessionStatistic[] = [
        { resourceType: kind.resourceType, total: p.total, success: p.completed, failed: p.failed, skipped: p.cancelled },
        ...(await changeStatistics(r, session.id)),
      ];
      const messages = p.completed > 0 ? [message('SUMMARY', 'CNSJ0011', describeChanges(await r.inventory.sessionChanges(session.id)))] : [];
      return { statistics, messages };
    },
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
