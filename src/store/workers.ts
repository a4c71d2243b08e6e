/**
 * Workers (docs/sites.md): each process that runs tasks writes its row at start, renews
 * `lastSeenAt` on the engine's sweep cadence and says STOPPED at a clean stop. A killed one's row
 * stays RUNNING with an old `lastSeenAt`: readers judge it dead by its own lease (core/sites.ts).
 */
import type { Selectable } from 'kysely';
import { earlierOnHost, workerState, type Worker } from '../core/sites.ts';
import type { Db } from './rows.ts';
import type { WorkersTable } from './schema.ts';

const toWorker = (r: Selectable<WorkersTable>): Worker => ({ ...r, state: r.state === 'STOPPED' ? 'STOPPED' : 'RUNNING' });

/** Rows of workers gone for longer than this are removed when another worker starts. */
const KEEP_GONE_MS = 7 * 24 * 3600_000;

export class WorkerRepository {
  constructor(private db: Db) {}

  async register(w: Omit<Worker, 'id' | 'state'>): Promise<Worker> {
    await this.db.deleteFrom('workers').where('lastSeenAt', '<', w.startedAt - KEEP_GONE_MS).execute();
    const r = await this.db.insertInto('workers').values({ ...w, state: 'RUNNING' }).returningAll().executeTakeFirstOrThrow();
    return toWorker(r);
  }

  async beat(id: number, now: number): Promise<void> {
    await this.db.updateTable('workers').set({ lastSeenAt: now }).where('id', '=', id).where('state', '=', 'RUNNING').execute();
  }

  /**
   * Whether a live worker of the same site on the same machine (by host name) registered before
   * this one: it takes the same tasks (engine.ts, shareHost).
   */
  async earlierOnHost(w: Pick<Worker, 'id' | 'name' | 'siteId'>, now: number): Promise<boolean> {
    return earlierOnHost(w, await this.live(w.siteId, now)) !== undefined;
  }

  async stopped(id: number, now: number): Promise<void> {
    await this.db.updateTable('workers').set({ lastSeenAt: now, state: 'STOPPED' }).where('id', '=', id).execute();
  }

  async all(): Promise<Worker[]> {
    return (await this.db.selectFrom('workers').selectAll().orderBy('id').execute()).map(toWorker);
  }

  /** Workers of a site that still heartbeat (their last beat is within their lease). */
  async live(siteId: number, now: number): Promise<Worker[]> {
    const rows = await this.db.selectFrom('workers').selectAll().where('siteId', '=', siteId).where('state', '=', 'RUNNING').execute();
    return rows.map(toWorker).filter((w) => workerState(w, now) === 'ENABLED');
  }

  /** Removes the rows of a site's workers (stopped or dead ones, when the site goes). */
  async forgetSite(siteId: number): Promise<void> {
    await this.db.deleteFrom('workers').where('siteId', '=', siteId).execute();
  }
}
