/** Identities (stored credentials) and registered application servers. */
import type { Selectable } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { AppServer, Identity } from '../core/types.ts';
import { bit, bool, inScope, listPage, type Db, type ServerScope } from './rows.ts';
import type { AppServersTable } from './schema.ts';

const toAppServer = (r: Selectable<AppServersTable>): AppServer => ({ ...r, useKeyAuthentication: bool(r.useKeyAuthentication) });

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

  /** Up to `limit` sealed secrets with ids above `afterId`, in id order (census rotate-key walks them). */
  async sealedAfter(afterId: number, limit: number): Promise<{ id: number; secret: string }[]> {
    return this.db.selectFrom('identities').select(['id', 'secret']).where('id', '>', afterId).orderBy('id').limit(limit).execute();
  }

  /** Replaces a sealed secret only if it is still `was`; false when it changed or went meanwhile. */
  async replaceSealed(id: number, was: string, now: string): Promise<boolean> {
    const r = await this.db.updateTable('identities').set({ secret: now }).where('id', '=', id).where('secret', '=', was).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}

export class AppServerRepository {
  constructor(private db: Db) {}

  async create(a: Omit<AppServer, 'id' | 'tlsMode'> & { tlsMode?: string }): Promise<AppServer> {
    const r = await this.db
      .insertInto('appservers')
      .values({ ...a, useKeyAuthentication: bit(a.useKeyAuthentication) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toAppServer(r);
  }

  async get(id: number): Promise<AppServer | undefined> {
    const r = await this.db.selectFrom('appservers').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toAppServer(r);
  }

  async all(): Promise<AppServer[]> {
    return (await this.db.selectFrom('appservers').selectAll().orderBy('id').execute()).map(toAppServer);
  }

  list(q: ListQuery, scope: ServerScope = 'all'): Promise<ListResult<AppServer>> {
    return listPage(inScope(this.db.selectFrom('appservers'), 'appservers.id', scope), q, 'id', toAppServer);
  }

  /** Changes what a server is registered as; the inventory it has and its id stay. */
  async update(id: number, changes: Partial<Omit<AppServer, 'id' | 'createdAt' | 'applicationType'>>): Promise<AppServer | undefined> {
    const { useKeyAuthentication, ...rest } = changes;
    const values = useKeyAuthentication === undefined ? rest : { ...rest, useKeyAuthentication: bit(useKeyAuthentication) };
    const r = await this.db.updateTable('appservers').set(values).where('id', '=', id).returningAll().executeTakeFirst();
    return r && toAppServer(r);
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
