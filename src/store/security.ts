/**
 * Custom roles, custom resource groups and the permission sets users hold. The built-in roles and
 * the "All Resources" group are not rows: they live in core/permissions.ts, and the reads here
 * put them first, so callers see one list.
 */
import type { Selectable } from 'kysely';
import {
  ALL_RESOURCES_POOL, BUILT_IN_ROLES, isPermission, type PermissionSet, type PoolResource, type ResourcePool, type Role,
} from '../core/permissions.ts';
import { json, type Db } from './rows.ts';
import type { ResourcePoolsTable, RolesTable } from './schema.ts';

const toRole = (r: Selectable<RolesTable>): Role => ({
  id: r.id, name: r.name, description: r.description, builtIn: false,
  // A key a later Census dropped is ignored rather than failing every read.
  permissionIds: json<string[]>(r.permissionIds, []).filter(isPermission),
});

const toPool = (r: Selectable<ResourcePoolsTable>): ResourcePool => ({
  id: r.id, name: r.name, description: r.description, builtIn: false, resources: json<PoolResource[]>(r.resources, []),
});

export class RoleRepository {
  constructor(private db: Db) {}

  async all(): Promise<Role[]> {
    const rows = await this.db.selectFrom('roles').selectAll().orderBy('id').execute();
    return [...BUILT_IN_ROLES, ...rows.map(toRole)];
  }

  async get(id: number): Promise<Role | undefined> {
    const builtIn = BUILT_IN_ROLES.find((r) => r.id === id);
    if (builtIn) return builtIn;
    const r = await this.db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toRole(r);
  }

  async create(r: Omit<Role, 'id' | 'builtIn'>, now: number): Promise<Role> {
    const row = await this.db.insertInto('roles')
      .values({ name: r.name, description: r.description, permissionIds: JSON.stringify(r.permissionIds), createdAt: now })
      .returningAll().executeTakeFirstOrThrow();
    return toRole(row);
  }

  async update(id: number, r: Pick<Role, 'name' | 'description' | 'permissionIds'>): Promise<void> {
    await this.db.updateTable('roles').set({ name: r.name, description: r.description, permissionIds: JSON.stringify(r.permissionIds) })
      .where('id', '=', id).execute();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('roles').where('id', '=', id).execute();
  }
}

export class ResourcePoolRepository {
  constructor(private db: Db) {}

  async all(): Promise<ResourcePool[]> {
    const rows = await this.db.selectFrom('resourcePools').selectAll().orderBy('id').execute();
    return [ALL_RESOURCES_POOL, ...rows.map(toPool)];
  }

  async get(id: number): Promise<ResourcePool | undefined> {
    if (id === ALL_RESOURCES_POOL.id) return ALL_RESOURCES_POOL;
    const r = await this.db.selectFrom('resourcePools').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toPool(r);
  }

  async create(p: Omit<ResourcePool, 'id' | 'builtIn'>, now: number): Promise<ResourcePool> {
    const row = await this.db.insertInto('resourcePools')
      .values({ name: p.name, description: p.description, resources: JSON.stringify(p.resources), createdAt: now })
      .returningAll().executeTakeFirstOrThrow();
    return toPool(row);
  }

  async update(id: number, p: Pick<ResourcePool, 'name' | 'description' | 'resources'>): Promise<void> {
    await this.db.updateTable('resourcePools').set({ name: p.name, description: p.description, resources: JSON.stringify(p.resources) })
      .where('id', '=', id).execute();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('resourcePools').where('id', '=', id).execute();
  }
}

export class PermissionSetRepository {
  constructor(private db: Db) {}

  async of(userId: number): Promise<PermissionSet[]> {
    return this.db.selectFrom('userPermissions').select(['roleId', 'poolId']).where('userId', '=', userId)
      .orderBy('roleId').orderBy('poolId').execute();
  }

  /** Every user's sets, for lists (one read instead of one per user). */
  async all(): Promise<Map<number, PermissionSet[]>> {
    const rows = await this.db.selectFrom('userPermissions').selectAll().orderBy('userId').orderBy('roleId').orderBy('poolId').execute();
    const by = new Map<number, PermissionSet[]>();
    for (const r of rows) by.set(r.userId, [...(by.get(r.userId) ?? []), { roleId: r.roleId, poolId: r.poolId }]);
    return by;
  }

  /** Replaces a user's sets. */
  async set(userId: number, sets: readonly PermissionSet[]): Promise<void> {
    await this.db.deleteFrom('userPermissions').where('userId', '=', userId).execute();
    const unique = [...new Map(sets.map((s) => [`${s.roleId}/${s.poolId}`, s])).values()];
    if (unique.length) await this.db.insertInto('userPermissions').values(unique.map((s) => ({ userId, ...s }))).execute();
  }

  /** How many users hold a set with this role (or this group). */
  async usersWith(what: { roleId: number } | { poolId: number }): Promise<number> {
    let q = this.db.selectFrom('userPermissions').select((eb) => eb.fn.count<number>('userId').distinct().as('n'));
    q = 'roleId' in what ? q.where('roleId', '=', what.roleId) : q.where('poolId', '=', what.poolId);
    return Number((await q.executeTakeFirst())?.n ?? 0);
  }
}
