/**
 * What inventories found: instances and their databases (or file systems), each with first-seen
 * / last-seen so runs can be compared. Objects a run no longer finds are marked missing, never
 * deleted. Each run's differences are written to the change history as they are recorded.
 */
import type { CompiledQuery, Selectable } from 'kysely';
import type { Later } from './later.ts';
import { diffObjects, type Change, type ObjectType, type SizeThreshold, DEFAULT_SIZE_THRESHOLD } from '../core/inventory-diff.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { Database, Finding, Instance, InventoryChange, PreviousInventory } from '../core/types.ts';
import { bool, dialectOf, everyField, fixedQuery, inScope, joinedColumns, json, listPage, type Db, type ServerScope } from './rows.ts';
import type { DatabasesTable, InstancesTable } from './schema.ts';

const toInstance = (r: Selectable<InstancesTable>): Instance => ({
  ...r,
  missing: bool(r.missing),
  properties: json<Record<string, unknown>>(r.properties, {}),
  findings: json<Finding[]>(r.findings, []),
});
const toDatabase = (r: Selectable<DatabasesTable>): Database => ({
  ...r,
  missing: bool(r.missing),
  properties: json<Record<string, unknown>>(r.properties, {}),
  findings: json<Finding[]>(r.findings, []),
});

/** Whether a stored database row already holds these values (all but its last sighting). */
function storedAs(
  row: Selectable<DatabasesTable>,
  v: { sizeBytes: number | null; owner: string | null; encoding: string | null; properties: string; missing: number; findings: string; objectType: string },
): boolean {
  // PostgreSQL hands a bigint back as a string.
  const size = row.sizeBytes === null ? null : Number(row.sizeBytes);
  return size === v.sizeBytes && row.owner === v.owner && row.encoding === v.encoding && row.properties === v.properties
    && Number(row.missing) === v.missing && row.findings === v.findings && row.objectType === v.objectType;
}

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
  findings?: { code: string; message: string; database?: string }[];
}

export interface RecordContext {
  appserverId: number;
  applicationType: string;
  /** What the instance's children are (the collector's first childType). */
  childType: string;
  sessionId: number;
  now: number;
  threshold?: SizeThreshold;
}

/** Every column of a database row. */
const DATABASE_COLUMNS = everyField<DatabasesTable>()([
  'id', 'instanceId', 'name', 'sizeBytes', 'owner', 'encoding', 'properties', 'firstSeen', 'lastSeen', 'missing', 'findings', 'objectType',
]);

/** An instance's databases, read with the instance (InventoryRepository.record). */
const DATABASE_JOINED = joinedColumns('databases', 'dbx', DATABASE_COLUMNS);

/**
 * One server's instances, each joined with all its databases. On PostgreSQL the databases come
 * from a LATERAL subquery fenced with OFFSET 0: with the statistics of tables that grew since
 * their last ANALYZE (a first inventory just wrote them), its planner hashed every database row of
 * the estate for each server (0.8 ms a task at 1,000 servers) rather than use the index on
 * instance_id; fenced, it always does.
 */
function instancesWithDatabases(db: Db, appserverId: number) {
  const from = db.selectFrom('instances');
  const joined = dialectOf(db) === 'postgres'
    ? from.leftJoinLateral((eb) => eb.selectFrom('databases').selectAll().whereRef('databases.instanceId', '=', 'instances.id').offset(0).as('databases'), (j) => j.onTrue())
    : from.leftJoin('databases', (j) => j.onRef('databases.instanceId', '=', 'instances.id'));
  return joined.where('instances.appserverId', '=', appserverId).orderBy('instances.id').orderBy('databases.id');
}

// Every inventory task's read and its instance's update, built once (rows.ts fixedQuery).
const STORED = fixedQuery((db, appserverId: number) => instancesWithDatabases(db, appserverId).selectAll('instances').select(DATABASE_JOINED.select as 'databases.id'[]));
const UPDATE_INSTANCE = fixedQuery((db, id: number, host: string, port: number | null, version: string | null, properties: string, lastSeen: number,
  lastSessionId: number, applicationType: string, findings: string) => db.updateTable('instances')
  .set({ host, port, version, properties, lastSeen, missing: 0, lastSessionId, applicationType, findings }).where('id', '=', id));

/**
 * The databases as readers see them. A run writes a database's row only when something of it
 * changed, so the row's own last sighting is the one recorded then; a database still present was
 * last seen when its instance was (every run writes the instance's row), a missing one when it
 * was recorded missing (record() sets that to its last sighting).
 */
function databaseRows(db: Db) {
  return db.selectFrom('databases').innerJoin('instances', 'instances.id', 'databases.instanceId').select((eb) => [
    ...DATABASE_READ.map((c) => `databases.${c}` as const),
    eb.case().when('databases.missing', '=', 0).then(eb.ref('instances.lastSeen')).else(eb.ref('databases.lastSeen')).end().as('lastSeen'),
  ]);
}
/** The columns databaseRows reads as stored: all but the last sighting, which it works out. */
const DATABASE_READ = DATABASE_COLUMNS.filter((c): c is Exclude<typeof c, 'lastSeen'> => c !== 'lastSeen');

/**
 * One server's stored inventory, read once by its task (InventoryRepository.stored): the
 * collector is given what it still holds (previous()), and recording diffs against the same rows
 * (record()). Only the server's own task writes them (one task a server in a session, one session
 * of a job at a time), so reading them when the task starts rather than in its end's
 * transaction changes nothing recording sees, and saves that transaction a round trip.
 */
export class StoredInventory {
  constructor(
    readonly instances: Instance[],
    private readonly databases: Map<number, Selectable<DatabasesTable>[]>,
  ) {}

  databasesOf(instanceId: number): Selectable<DatabasesTable>[] {
    return this.databases.get(instanceId) ?? [];
  }

  /**
   * What the last inventory found and still holds (missing objects left out), names and
   * properties: copies, so that what the collector does with them cannot touch the rows
   * recording compares with.
   */
  previous(): PreviousInventory {
    return {
      instances: this.instances.filter((i) => !i.missing).map((i) => ({
        name: i.name,
        properties: structuredClone(i.properties),
        databases: this.databasesOf(i.id).filter((d) => !d.missing).map((d) => ({ name: d.name, properties: json<Record<string, unknown>>(d.properties, {}) })),
      })),
    };
  }
}

export class InventoryRepository {
  /** `later`: Repositories.later, for the writes whose outcome recording does not read. */
  constructor(
    private db: Db,
    private later: Later,
  ) {}

  /**
   * Records one server's inventory from one session and returns what changed since the last
   * one. Call in a transaction, so the objects and their history commit together. `read`: the
   * server's stored inventory its task read when it started (else it is read now).
   */
  async record(ctx: RecordContext, found: FoundInstance[], read?: StoredInventory): Promise<Change[]> {
    const { appserverId, sessionId, now } = ctx;
    const threshold = ctx.threshold ?? DEFAULT_SIZE_THRESHOLD;
    const childType: ObjectType = ctx.childType;
    const stored = read ?? (await this.stored(appserverId));
    const existing = stored.instances;
    const databasesOf = (id: number) => stored.databasesOf(id);
    const changes: { change: Change; objectId: number | null }[] = [];
    const idOf = new Map(existing.map((e) => [e.name, e.id]));

    for (const c of diffObjects('instance', null, existing, found.map((f) => ({ ...f, missing: false })), threshold)) changes.push({ change: c, objectId: idOf.get(c.objectName) ?? null });

    for (const inst of found) {
      const instanceFindings = (inst.findings ?? []).filter((f) => !f.database).map(({ code, message }) => ({ code, message }));
      const values = {
        host: inst.host, port: inst.port, version: inst.version, properties: JSON.stringify(inst.properties), lastSeen: now,
        missing: 0, lastSessionId: sessionId, applicationType: ctx.applicationType, findings: JSON.stringify(instanceFindings),
      };
      let instanceId = idOf.get(inst.name);
      if (instanceId !== undefined) {
        await this.later(UPDATE_INSTANCE(this.db, instanceId, values.host, values.port, values.version, values.properties, values.lastSeen,
          values.lastSessionId, values.applicationType, values.findings));
      } else {
        instanceId = (await this.db.insertInto('instances').values({ ...values, appserverId, name: inst.name, firstSeen: now }).returning('id').executeTakeFirstOrThrow()).id;
        for (const c of changes) if (c.change.objectName === inst.name && c.objectId === null) c.objectId = instanceId;
      }
      const seenBefore = existing.find((e) => e.id === instanceId)?.lastSeen ?? now;
      changes.push(...(await this.recordDatabases(instanceId, databasesOf(instanceId), inst, childType, now, seenBefore, threshold)));
    }

    const seen = new Set(found.map((f) => f.name));
    const gone = existing.filter((e) => !seen.has(e.name)).map((e) => e.id);
    if (gone.length) {
      await this.later(this.db.updateTable('instances').set({ missing: 1 }).where('id', 'in', gone).compile());
      // The databases of a vanished instance are gone with it; their history says so once.
      const orphans = gone.flatMap(databasesOf).filter((d) => !d.missing);
      for (const d of orphans) {
        const parent = existing.find((e) => e.id === d.instanceId)!.name;
        changes.push({
          change: { objectType: (d.objectType as ObjectType) ?? childType, objectName: d.name, parentName: parent, change: 'disappeared', field: null, oldValue: null, newValue: null },
          objectId: d.id,
        });
      }
      // Their rows were not written while they were found as stored: their last sighting is the
      // instance's (which going missing leaves as it was).
      await this.later(this.db.updateTable('databases')
        .set((eb) => ({ missing: 1, lastSeen: eb.selectFrom('instances').select('instances.lastSeen').whereRef('instances.id', '=', 'databases.instanceId') }))
        .where('instanceId', 'in', gone).where('missing', '=', 0).compile());
    }

    if (changes.length) {
      await this.later(this.db
        .insertInto('inventoryChanges')
        .values(changes.map(({ change: c, objectId }) => ({ ...c, objectId, sessionId, appserverId, recordedAt: now })))
        .compile());
    }
    return changes.map((c) => c.change);
  }

  /**
   * The server's stored instances and, by instance, all their database rows, in one read
   * (recording read them with one query an instance, each a round trip on PostgreSQL).
   */
  async stored(appserverId: number): Promise<StoredInventory> {
    const rows = (await this.db.executeQuery(STORED(this.db, appserverId))).rows;
    const instances = new Map<number, Instance>();
    const databases = new Map<number, Selectable<DatabasesTable>[]>();
    for (const r of rows) {
      const [instance, database] = DATABASE_JOINED.split(r);
      const id = instance.id as number;
      if (!instances.has(id)) {
        instances.set(id, toInstance(instance as Selectable<InstancesTable>));
        databases.set(id, []);
      }
      if (database.id != null) databases.get(id)!.push(database as unknown as Selectable<DatabasesTable>);
    }
    return new StoredInventory([...instances.values()], databases);
  }

  /**
   * `seenBefore`: when the instance was last seen before this run, the last sighting of its
   * databases that were present then (readers take a present database's from its instance).
   */
  private async recordDatabases(instanceId: number, rows: Selectable<DatabasesTable>[], inst: FoundInstance, objectType: ObjectType, now: number,
    seenBefore: number, threshold: SizeThreshold) {
    const existing = rows.map(toDatabase);
    const stored = new Map(rows.map((r) => [r.name, r]));
    const ids = new Map(existing.map((e) => [e.name, e.id]));
    const out: { change: Change; objectId: number | null }[] = [];
    const diff = diffObjects(objectType, inst.name, existing, inst.databases.map((d) => ({ ...d, missing: false })), threshold);
    // Rows found as they are stored are not written at all: a present database was last seen
    // when its instance was (databaseRows). On an unchanged estate that is every row; one UPDATE
    // each was most of what recording cost, and one UPDATE of all their last sightings was still
    // the costliest statement of a warm task (bench/README.md, scale).
    for (const d of inst.databases) {
      const findings = (inst.findings ?? []).filter((f) => f.database === d.name).map(({ code, message }) => ({ code, message }));
      const values = {
        sizeBytes: d.sizeBytes, owner: d.owner, encoding: d.encoding, properties: JSON.stringify(d.properties), lastSeen: now,
        missing: 0, findings: JSON.stringify(findings), objectType,
      };
      const row = stored.get(d.name);
      if (row && storedAs(row, values)) continue;
      if (row) await this.later(this.db.updateTable('databases').set(values).where('id', '=', row.id).compile());
      else ids.set(d.name, (await this.db.insertInto('databases').values({ ...values, instanceId, name: d.name, firstSeen: now }).returning('id').executeTakeFirstOrThrow()).id);
    }
    const found = new Set(inst.databases.map((d) => d.name));
    const gone = existing.filter((e) => !found.has(e.name) && !e.missing).map((e) => e.id);
    if (gone.length) await this.later(this.db.updateTable('databases').set({ missing: 1, lastSeen: seenBefore }).where('id', 'in', gone).compile());
    for (const c of diff) out.push({ change: c, objectId: ids.get(c.objectName) ?? null });
    return out;
  }

  listInstances(q: ListQuery, applicationType: string, scope: ServerScope = 'all'): Promise<ListResult<Instance>> {
    return listPage(inScope(this.db.selectFrom('instances').where('applicationType', '=', applicationType), 'instances.appserverId', scope), q, 'id', toInstance);
  }

  async instance(id: number): Promise<Instance | undefined> {
    const r = await this.db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toInstance(r);
  }

  listDatabases(q: ListQuery, instanceId: number): Promise<ListResult<Database>> {
    return listPage(this.db.selectFrom(databaseRows(this.db).where('databases.instanceId', '=', instanceId).as('d')), q, 'id', toDatabase);
  }

  async database(id: number): Promise<Database | undefined> {
    const r = await databaseRows(this.db).where('databases.id', '=', id).executeTakeFirst();
    return r && toDatabase(r as Selectable<DatabasesTable>);
  }

  /** Changes recorded by one session, or the history of one object. */
  listChanges(q: ListQuery, of: { sessionId: number } | { objectType: string; objectId: number }, scope: ServerScope = 'all'): Promise<ListResult<InventoryChange>> {
    let base = inScope(this.db.selectFrom('inventoryChanges'), 'inventoryChanges.appserverId', scope);
    base = 'sessionId' in of
      ? base.where('sessionId', '=', of.sessionId)
      : base.where('objectType', '=', of.objectType).where('objectId', '=', of.objectId);
    return listPage(base, q, 'id', (r: InventoryChange) => r);
  }

  /** Counts of a session's changes by object type and kind. */
  async changeCounts(sessionId: number): Promise<{ objectType: string; change: string; n: number }[]> {
    const rows = await this.db
      .selectFrom('inventoryChanges')
      .select(['objectType', 'change', (eb) => eb.fn.countAll<number>().as('n')])
      .where('sessionId', '=', sessionId)
      .groupBy(['objectType', 'change'])
      .execute();
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  async sessionChanges(sessionId: number): Promise<Change[]> {
    return this.db
      .selectFrom('inventoryChanges')
      .select(['objectType', 'objectName', 'parentName', 'change', 'field', 'oldValue', 'newValue'])
      .where('sessionId', '=', sessionId)
      .orderBy('id')
      .execute() as Promise<Change[]>;
  }
}
