/**
 * What inventories found: instances and their databases, each with first-seen / last-seen so
 * runs can be compared. Objects that a run no longer finds are marked missing, never deleted.
 */
import type { Selectable } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { Database, Instance } from '../core/types.ts';
import { bit, bool, json, listPage, type Db } from './rows.ts';
import type { DatabasesTable, InstancesTable } from './schema.ts';

const toInstance = (r: Selectable<InstancesTable>): Instance => ({
  ...r,
  missing: bool(r.missing),
  properties: json<Record<string, unknown>>(r.properties, {}),
});
const toDatabase = (r: Selectable<DatabasesTable>): Database => ({
  ...r,
  missing: bool(r.missing),
  properties: json<Record<string, unknown>>(r.properties, {}),
});

export interface FoundDatabase {
  name: string;
  sizeBytes: number | null;
  owner: string | null;
  encoding: string | null;
  properties: Record<string, unknown>;
}

export interface FoundInstance {
  name: string;
  host: string;
  port: number | null;
  version: string | null;
  properties: Record<string, unknown>;
  databases: FoundDatabase[];
}

export class InventoryRepository {
  constructor(private db: Db) {}

  /**
   * Records one server's inventory from one session: upserts what was found (keeping first-seen),
   * and marks missing what this server had before but the run did not find. Call in a transaction.
   */
  async record(appserverId: number, applicationType: string, sessionId: number, now: number, found: FoundInstance[]): Promise<void> {
    const existing = await this.db.selectFrom('instances').selectAll().where('appserverId', '=', appserverId).execute();
    const seen = new Set<number>();
    for (const inst of found) {
      const prior = existing.find((e) => e.name === inst.name);
      const values = {
        host: inst.host,
        port: inst.port,
        version: inst.version,
        properties: JSON.stringify(inst.properties),
        lastSeen: now,
        missing: 0,
        lastSessionId: sessionId,
        applicationType,
      };
      let instanceId: number;
      if (prior) {
        await this.db.updateTable('instances').set(values).where('id', '=', prior.id).execute();
        instanceId = prior.id;
      } else {
        const r = await this.db
          .insertInto('instances')
          .values({ ...values, appserverId, name: inst.name, firstSeen: now })
          .returning('id')
          .executeTakeFirstOrThrow();
        instanceId = r.id;
      }
      seen.add(instanceId);
      await this.recordDatabases(instanceId, now, inst.databases);
    }
    const gone = existing.filter((e) => !seen.has(e.id)).map((e) => e.id);
    if (gone.length) {
      await this.db.updateTable('instances').set({ missing: 1 }).where('id', 'in', gone).execute();
      await this.db.updateTable('databases').set({ missing: 1 }).where('instanceId', 'in', gone).execute();
    }
  }

  private async recordDatabases(instanceId: number, now: number, found: FoundDatabase[]): Promise<void> {
    const existing = await this.db.selectFrom('databases').select(['id', 'name']).where('instanceId', '=', instanceId).execute();
    const byName = new Map(existing.map((e) => [e.name, e.id]));
    const seen = new Set<number>();
    for (const d of found) {
      const values = {
        sizeBytes: d.sizeBytes,
        owner: d.owner,
        encoding: d.encoding,
        properties: JSON.stringify(d.properties),
        lastSeen: now,
        missing: 0,
      };
      const id = byName.get(d.name);
      if (id !== undefined) {
        await this.db.updateTable('databases').set(values).where('id', '=', id).execute();
        seen.add(id);
      } else {
        await this.db.insertInto('databases').values({ ...values, instanceId, name: d.name, firstSeen: now }).execute();
      }
    }
    const gone = existing.filter((e) => !seen.has(e.id)).map((e) => e.id);
    if (gone.length) await this.db.updateTable('databases').set({ missing: 1 }).where('id', 'in', gone).execute();
  }

  listInstances(q: ListQuery, applicationType: string): Promise<ListResult<Instance>> {
    return listPage(this.db.selectFrom('instances').where('applicationType', '=', applicationType), q, 'id', toInstance);
  }

  async instance(id: number): Promise<Instance | undefined> {
    const r = await this.db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toInstance(r);
  }

  listDatabases(q: ListQuery, instanceId: number): Promise<ListResult<Database>> {
    return listPage(this.db.selectFrom('databases').where('instanceId', '=', instanceId), q, 'id', toDatabase);
  }

  async database(id: number): Promise<Database | undefined> {
    const r = await this.db.selectFrom('databases').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toDatabase(r);
  }
}
