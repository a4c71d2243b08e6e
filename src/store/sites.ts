/** Sites (docs/sites.md): places that servers and workers belong to; 1000 "Primary" always exists. */
import type { Selectable } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { Site } from '../core/sites.ts';
import { bit, bool, listPage, type Db } from './rows.ts';
import type { SitesTable } from './schema.ts';

const toSite = (r: Selectable<SitesTable>): Site => ({ ...r, defaultSite: bool(r.defaultSite), allowAnyWorker: bool(r.allowAnyWorker) });

export class SiteRepository {
  constructor(private db: Db) {}

  list(q: ListQuery): Promise<ListResult<Site>> {
    return listPage(this.db.selectFrom('sites'), q, 'id', toSite);
  }

  async all(): Promise<Site[]> {
    return (await this.db.selectFrom('sites').selectAll().orderBy('id').execute()).map(toSite);
  }

  async get(id: number): Promise<Site | undefined> {
    const r = await this.db.selectFrom('sites').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toSite(r);
  }

  /** By name, ignoring case (names are unique that way). */
  async byName(name: string): Promise<Site | undefined> {
    const rows = await this.db.selectFrom('sites').selectAll().execute();
    const r = rows.find((s) => s.name.toLowerCase() === name.trim().toLowerCase());
    return r && toSite(r);
  }

  async create(s: Omit<Site, 'id'>): Promise<Site> {
    const r = await this.db
      .insertInto('sites')
      .values({ ...s, defaultSite: bit(s.defaultSite), allowAnyWorker: bit(s.allowAnyWorker) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toSite(r);
  }

  async update(id: number, changes: Partial<Pick<Site, 'name' | 'description' | 'allowAnyWorker'>>): Promise<Site | undefined> {
    const { allowAnyWorker, ...rest } = changes;
    const values = { ...rest, ...(allowAnyWorker === undefined ? {} : { allowAnyWorker: bit(allowAnyWorker) }) };
    if (Object.keys(values).length) await this.db.updateTable('sites').set(values).where('id', '=', id).execute();
    return this.get(id);
  }

  async delete(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('sites').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  /** Names of the servers (application servers and hypervisors) in a site, up to `limit`, and how many there are. */
  async servers(id: number, limit = 10): Promise<{ total: number; names: string[] }> {
    const n = await this.db.selectFrom('appservers').select((eb) => eb.fn.countAll<number>().as('n')).where('siteId', '=', id).executeTakeFirst();
    const rows = await this.db.selectFrom('appservers').select('name').where('siteId', '=', id).orderBy('id').limit(limit).execute();
    return { total: Number(n?.n ?? 0), names: rows.map((r) => r.name) };
  }
}
