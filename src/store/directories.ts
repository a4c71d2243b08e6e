/**
 * Directory (LDAP) servers users log in through, and the mappings of their groups to permission
 * sets. A directory's settings are kept as JSON without the service account's password, which is
 * sealed (SecretBox) in its own column, so `census rotate-key` can seal it again like an
 * identity's secret. The settings' meaning is src/directory/'s; the store only keeps them.
 */
import type { Selectable } from 'kysely';
import { json, type Db } from './rows.ts';
import type { DirectoriesTable, DirectoryGroupMappingsTable } from './schema.ts';

export interface StoredDirectory {
  id: number;
  name: string;
  /** The settings (src/directory/config.ts) without bindPassword. */
  config: Record<string, unknown>;
  /** The service account's password, sealed; null only for a row someone emptied by hand. */
  bindSecret: string | null;
  createdAt: number;
}

export interface GroupMapping {
  id: number;
  directoryId: number;
  /** The group's DN as it was given. */
  groupDn: string;
  roleId: number;
  poolId: number;
}

const toDirectory = (r: Selectable<DirectoriesTable>): StoredDirectory => ({ ...r, config: json<Record<string, unknown>>(r.config, {}) });
const toMapping = (r: Selectable<DirectoryGroupMappingsTable>): GroupMapping => r;

export class DirectoryRepository {
  constructor(private db: Db) {}

  async all(): Promise<StoredDirectory[]> {
    return (await this.db.selectFrom('directories').selectAll().orderBy('id').execute()).map(toDirectory);
  }

  async get(id: number): Promise<StoredDirectory | undefined> {
    const r = await this.db.selectFrom('directories').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toDirectory(r);
  }

  async create(d: Omit<StoredDirectory, 'id'>): Promise<StoredDirectory> {
    const r = await this.db.insertInto('directories')
      .values({ name: d.name, config: JSON.stringify(d.config), bindSecret: d.bindSecret, createdAt: d.createdAt })
      .returningAll().executeTakeFirstOrThrow();
    return toDirectory(r);
  }

  async update(id: number, d: Pick<StoredDirectory, 'name' | 'config'> & { bindSecret?: string }): Promise<void> {
    await this.db.updateTable('directories')
      .set({ name: d.name, config: JSON.stringify(d.config), ...(d.bindSecret !== undefined ? { bindSecret: d.bindSecret } : {}) })
      .where('id', '=', id).execute();
  }

  /** Deletes the directory and its mappings (its users are the service's to remove first). */
  async delete(id: number): Promise<boolean> {
    await this.db.deleteFrom('directoryGroupMappings').where('directoryId', '=', id).execute();
    const r = await this.db.deleteFrom('directories').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  /** The ids of the users this directory made (LDAP_USER rows that name it). */
  async userIdsOf(id: number): Promise<number[]> {
    const rows = await this.db.selectFrom('users').select('id').where('directoryId', '=', id).orderBy('id').execute();
    return rows.map((r) => r.id);
  }

  async mappings(directoryId: number): Promise<GroupMapping[]> {
    return (await this.db.selectFrom('directoryGroupMappings').selectAll().where('directoryId', '=', directoryId).orderBy('id').execute()).map(toMapping);
  }

  async mapping(id: number): Promise<GroupMapping | undefined> {
    const r = await this.db.selectFrom('directoryGroupMappings').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toMapping(r);
  }

  async addMapping(m: Omit<GroupMapping, 'id'>): Promise<GroupMapping> {
    return toMapping(await this.db.insertInto('directoryGroupMappings').values(m).returningAll().executeTakeFirstOrThrow());
  }

  async deleteMapping(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('directoryGroupMappings').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  /** The mappings that name this role (or this resource group), with their directory's name: what deleting it would break. */
  async mappingsWith(what: { roleId: number } | { poolId: number }): Promise<(GroupMapping & { directoryName: string })[]> {
    let q = this.db.selectFrom('directoryGroupMappings as m').innerJoin('directories as d', 'd.id', 'm.directoryId')
      .selectAll('m').select('d.name as directoryName');
    q = 'roleId' in what ? q.where('m.roleId', '=', what.roleId) : q.where('m.poolId', '=', what.poolId);
    return q.orderBy('m.id').execute();
  }

  /** Every directory's mappings, in id order (the last-administrator check reads them all). */
  async allMappings(): Promise<GroupMapping[]> {
    return (await this.db.selectFrom('directoryGroupMappings').selectAll().orderBy('id').execute()).map(toMapping);
  }

}
