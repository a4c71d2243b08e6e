/** Identities (stored credentials) and registered application servers. */
import { sql, type Selectable, type SelectQueryBuilder } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { AppServer, Identity } from '../core/types.ts';
import { bit, bool, everyField, fixedQuery, inScope, joinedColumns, listPage, type Db, type ServerScope } from './rows.ts';
import type { AppServersTable, DB } from './schema.ts';

const toAppServer = (r: Selectable<AppServersTable> & { siteName?: string | null }): AppServer => ({ ...r, siteName: r.siteName ?? undefined, useKeyAuthentication: bool(r.useKeyAuthentication) });

/** A server record's own fields: what a write may set (its site's name is read, not stored). */
const own = <T extends { siteName?: unknown }>(a: T): Omit<T, 'siteName'> => {
  const { siteName: _read, ...rest } = a;
  return rest;
};

/** A server's identity, read with the server (AppServerRepository.withIdentity). */
const IDENTITY_JOINED = joinedColumns('identities', 'idn', everyField<Identity>()(['id', 'name', 'username', 'kind', 'secret', 'type', 'ostype', 'comment', 'createdAt']));

export class IdentityRepository {
  constructor(private db: Db) {}

  async create(i: Omit<Identity, 'id'>): Promise<Identity> {
    return this.db.insertInto('identities').values(i).returningAll().executeTakeFirstOrThrow();
  }

  async get(id: number): Promise<Identity | undefined> {
    return this.db.selectFrom('identities').selectAll().where('id', '=', id).executeTakeFirst();
  }

  list(q: ListQuery, kind?: string): Promise<ListResult<Identity>> {
    const base = kind ? this.db.selectFrom('identities').where('kind', '=', kind) : this.db.selectFrom('identities');
    return listPage(base, q, 'id', (r: Identity) => r);
  }

  async delete(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('identities').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  async usedBy(id: number): Promise<number> {
    const r = await this.db.selectFrom('appservers').select((eb) => eb.fn.countAll<number>().as('n')).where('identityId', '=', id).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

}

/** Servers of these application types only, or of every type but these. */
export type TypeFilter = { only: readonly string[] } | { except: readonly string[] };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function ofTypes<Q extends SelectQueryBuilder<DB, 'appservers', any>>(q: Q, types: TypeFilter | undefined): Q {
  if (!types) return q;
  if ('only' in types) return (types.only.length ? q.where('appservers.applicationType', 'in', [...types.only]) : q.where(sql<boolean>`1 = 0`)) as Q;
  return (types.except.length ? q.where('appservers.applicationType', 'not in', [...types.except]) : q) as Q;
}

/** The servers with the name of their site (SPP's siteName). */
const withSiteName = (db: Db) => db.selectFrom('appservers').select((eb) => eb.selectFrom('sites').select('sites.name').whereRef('sites.id', '=', 'appservers.siteId').as('siteName'));

/** Built once (rows.ts fixedQuery): every inventory task reads its server with its identity. */
const SERVER_WITH_IDENTITY = fixedQuery((db, id: number) => withSiteName(db).leftJoin('identities', 'identities.id', 'appservers.identityId')
  .selectAll('appservers').select(IDENTITY_JOINED.select as 'identities.id'[]).where('appservers.id', '=', id));

export class AppServerRepository {
  constructor(private db: Db) {}

  /** The servers with the name of their site (SPP's siteName), read with every record. */
  private rows() {
    return withSiteName(this.db);
  }

  async create(a: Omit<AppServer, 'id' | 'tlsMode'> & { tlsMode?: string }): Promise<AppServer> {
    const r = await this.db
      .insertInto('appservers')
      .values({ ...own(a), useKeyAuthentication: bit(a.useKeyAuthentication) })
      .returning('id')
      .executeTakeFirstOrThrow();
    return (await this.get(r.id))!;
  }

  async get(id: number): Promise<AppServer | undefined> {
    const r = await this.rows().selectAll().where('id', '=', id).executeTakeFirst();
    return r && toAppServer(r);
  }

  /**
   * A server with the identity it logs in with (undefined: none attached, or gone), in one read:
   * an inventory task reads both before each claim (engine/jobtypes/inventory-task.ts).
   */
  async withIdentity(id: number): Promise<{ server: AppServer; identity: Identity | undefined } | undefined> {
    const r = (await this.db.executeQuery(SERVER_WITH_IDENTITY(this.db, id))).rows[0];
    if (!r) return undefined;
    const [server, identity] = IDENTITY_JOINED.split(r);
    return { server: toAppServer(server as Selectable<AppServersTable>), identity: identity.id == null ? undefined : identity as unknown as Identity };
  }

  /**
   * The servers of one type at one address (host compared without case), by index: a bulk
   * registration checks each entry, and reading every server for each made 10,000 registrations
   * take minutes.
   */
  async atAddress(hostAddress: string, portNumber: number | null, applicationType: string): Promise<AppServer[]> {
    const rows = await this.rows().selectAll()
      .where('applicationType', '=', applicationType)
      .where(sql<string>`lower(host_address)`, '=', hostAddress.toLowerCase())
      .where('portNumber', portNumber === null ? 'is' : '=', portNumber)
      .orderBy('id')
      .execute();
    return rows.map(toAppServer);
  }

  async all(types?: TypeFilter): Promise<AppServer[]> {
    return (await ofTypes(this.rows(), types).selectAll().orderBy('id').execute()).map(toAppServer);
  }

  /** `types`: only servers of these application types, or all but these (application servers vs hypervisors). */
  list(q: ListQuery, scope: ServerScope = 'all', types?: TypeFilter): Promise<ListResult<AppServer>> {
    return listPage(ofTypes(inScope(this.rows(), 'appservers.id', scope), types), q, 'id', toAppServer);
  }

  /** Changes what a server is registered as; the inventory it has and its id stay. */
  async update(id: number, changes: Partial<Omit<AppServer, 'id' | 'createdAt' | 'applicationType'>>): Promise<AppServer | undefined> {
    const { useKeyAuthentication, ...rest } = own(changes);
    const values = useKeyAuthentication === undefined ? rest : { ...rest, useKeyAuthentication: bit(useKeyAuthentication) };
    const r = await this.db.updateTable('appservers').set(values).where('id', '=', id).returning('id').executeTakeFirst();
    return r && this.get(r.id);
  }

  async delete(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('appservers').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }
}

export interface ConnectionTest {
  id: number;
  appserverId: number;
  createdAt: number;
  complete: boolean;
  checks: unknown[];
}

export class ConnectionTestRepository {
  constructor(private db: Db) {}

  async save(appserverId: number, createdAt: number, checks: unknown[]): Promise<ConnectionTest> {
    const r = await this.db
      .insertInto('connectionTests')
      .values({ appserverId, createdAt, complete: 1, checks: JSON.stringify(checks) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { ...r, complete: bool(r.complete), checks };
  }

  async get(id: number): Promise<ConnectionTest | undefined> {
    const r = await this.db.selectFrom('connectionTests').selectAll().where('id', '=', id).executeTakeFirst();
    return r && { ...r, complete: bool(r.complete), checks: JSON.parse(r.checks) as unknown[] };
  }

  /** Old results are of no use; keep the table small. */
  async deleteBefore(cutoff: number): Promise<void> {
    await this.db.deleteFrom('connectionTests').where('createdAt', '<', cutoff).execute();
  }
}
