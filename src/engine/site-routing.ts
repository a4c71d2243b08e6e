/**
 * Which workers may take a task (docs/sites.md): a task on a server goes to the workers of the
 * server's site; a task on no server (maintenance, fan-out job types) to any worker. A site with
 * no live worker keeps its tasks waiting, PENDING, with one WARN entry per session that says why;
 * a site that allows it (`allowAnyWorker`) has them taken by any worker instead.
 *
 * Only a queue that routes by site (pg-boss: one queue per site, engine/pgboss-queue.ts) asks
 * this; the in-process queue of the embedded SQLite default runs every site's tasks, as its one
 * engine is the only worker there is.
 */
import type { Task } from '../core/types.ts';
import type { Repositories } from '../store/index.ts';
import type { EngineContext } from './context.ts';
import { message } from './messages.ts';
import type { QueuedTask } from './queue.ts';
import { writeLog } from './session-records.ts';

/** The queue messages of a session's tasks, each with the site whose workers take it (none: any worker). */
export async function routeTasks(e: EngineContext, r: Repositories, sessionId: number, tasks: Pick<Task, 'id'>[]): Promise<QueuedTask[]> {
  const sites = await r.tasks.sitesOf(tasks.map((t) => t.id));
  const now = Date.now();
  const decided = new Map<number, boolean>(); // site → whether its own workers take its tasks
  const servers = new Map<number, string[]>(); // site → servers whose tasks go elsewhere or wait
  for (const s of new Set([...sites.values()].map((v) => v.siteId))) {
    decided.set(s, (await r.workers.live(s, now)).length > 0);
  }
  for (const v of sites.values()) {
    if (decided.get(v.siteId)) continue;
    const names = servers.get(v.siteId) ?? [];
    names.push(v.server);
    servers.set(v.siteId, names);
  }
  const anyWorker = new Set<number>();
  for (const [siteId, names] of servers) {
    const site = await r.sites.get(siteId);
    if (site?.allowAnyWorker) anyWorker.add(siteId);
    const id = site?.allowAnyWorker ? 'CNSJ0021' : 'CNSJ0020';
    const siteName = site?.name ?? String(siteId);
    // Once per session and site: the sweeper queues waiting tasks again now and then.
    if (await r.logs.has(sessionId, id, siteName)) continue;
    const session = await r.sessions.get(sessionId);
    const list = [...new Set(names)].sort().join(', ');
    if (session) await writeLog(e, r, session, null, message(id === 'CNSJ0020' ? 'WARN' : 'INFO', id, siteName, list, siteId));
  }
  return tasks.map((t) => {
    const site = sites.get(t.id);
    return site && !anyWorker.has(site.siteId) ? { taskId: t.id, sessionId, siteId: site.siteId } : { taskId: t.id, sessionId };
  });
}
