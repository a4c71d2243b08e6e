/**
 * Roles and resource groups (spec §11.1). Built-in ones are read-only; a custom one in use by a
 * user or named by a directory group mapping cannot be deleted; no change may leave Census without
 * an enabled user who can manage users.
 */
import type { Actor } from '../core/actor.ts';
import { conflict, invalid, notAllowed, notFound } from '../core/errors.ts';
import { isPermission, type Permission, type PoolResource, type ResourcePool, type Role } from '../core/permissions.ts';
import type { Repositories } from '../store/index.ts';
import type { AuthService } from './auth.ts';
import type { ServiceContext } from './context.ts';
import { keepAnAdmin } from './users.ts';

export interface RoleInput {
  name: string;
  description?: string;
  permissionIds: string[];
}

export interface PoolInput {
  name: string;
  description?: string;
  resources: PoolResource[];
}

const checkName = (name: string, what: string) => {
  if (!name.trim() || name.length > 128) throw invalid(`A ${what} needs a "name" of 1 to 128 characters.`, `${what.replace(' ', '')}.name`);
};

/**
 * Refuses to delete a role or resource group a directory group mapping names: the mapping would
 * silently stop giving anything, and its users lose their access at their next login.
 */
async function notMapped(r: Repositories, what: { roleId: number } | { poolId: number }, label: string, code: string): Promise<void> {
  const used = await r.directories.mappingsWith(what);
  if (!used.length) return;
  const [first] = used;
  const more = used.length > 1 ? ` and ${used.length - 1} other mapping(s)` : '';
  throw conflict(`${label} is mapped to group "${first!.groupDn}" of directory "${first!.directoryName}"${more}; remove those mappings first (/api/ldap/{id}/mapping).`, code);
}

function permissionsOf(ids: string[]): Permission[] {
  const unknown = ids.filter((p) => !isPermission(p));
  if (unknown.length) throw invalid(`Unknown permission(s): ${unknown.map((p) => JSON.stringify(p)).join(', ')}; GET /api/security/permission lists them.`, 'role.permission');
  return [...new Set(ids)] as Permission[];
}

export function roleService(ctx: ServiceContext, auth: AuthService) {
  const { store, clock } = ctx;

  async function get(_actor: Actor, id: number): Promise<Role> {
    const role = await store.roles.get(id);
    if (!role) throw notFound('Role', id);
    return role;
  }

  async function unique(r: Repositories, name: string, except?: number) {
    const same = (await r.roles.all()).find((x) => x.name.toLowerCase() === name.trim().toLowerCase() && x.id !== except);
    if (same) throw conflict(`A role named "${same.name}" exists already.`, 'role.duplicate');
  }

  return {
    get,
    list: (_actor: Actor) => store.roles.all(),

    async create(_actor: Actor, input: RoleInput): Promise<Role> {
      checkName(input.name, 'role');
      const permissionIds = permissionsOf(input.permissionIds);
      return store.transaction(async (r) => {
        await unique(r, input.name);
        return r.roles.create({ name: input.name.trim(), description: input.description ?? '', permissionIds }, clock.now());
      });
    },

    /** Replaces what the role holds (SPP's PUT replaces `permissionIds`). */
    async update(actor: Actor, id: number, input: Partial<RoleInput>): Promise<Role> {
      const role = await get(actor, id);
      if (role.builtIn) throw notAllowed(`${role.name} is a built-in role and cannot be changed.`, 'role.built-in');
      if (input.name !== undefined) checkName(input.name, 'role');
      const next = {
        name: input.name?.trim() ?? role.name,
        description: input.description ?? role.description,
        permissionIds: input.permissionIds ? permissionsOf(input.permissionIds) : role.permissionIds,
      };
      await store.transaction(async (r) => {
        await unique(r, next.name, id);
        await r.roles.update(id, next);
        await keepAnAdmin(r);
      });
      auth.forgetAccess();
      return { ...role, ...next };
    },

    async delete(actor: Actor, id: number): Promise<void> {
      const role = await get(actor, id);
      if (role.builtIn) throw notAllowed(`${role.name} is a built-in role and cannot be deleted.`, 'role.built-in');
      await store.transaction(async (r) => {
        // A mapping first: taking it from directory users is no use while a mapping gives it back.
        await notMapped(r, { roleId: id }, `Role "${role.name}"`, 'role.in-use');
        const users = await r.permissionSets.usersWith({ roleId: id });
        if (users) throw conflict(`Role "${role.name}" is held by ${users} user(s); take it from them first.`, 'role.in-use');
        await r.roles.delete(id);
      });
      auth.forgetAccess();
    },
  };
}

export function resourcePoolService(ctx: ServiceContext, auth: AuthService) {
  const { store, clock } = ctx;

  async function get(_actor: Actor, id: number): Promise<ResourcePool> {
    const pool = await store.resourcePools.get(id);
    if (!pool) throw notFound('Resource group', id);
    return pool;
  }

  async function check(r: Repositories, input: Pick<PoolInput, 'name' | 'resources'>, except?: number) {
    checkName(input.name, 'resource group');
    const same = (await r.resourcePools.all()).find((x) => x.name.toLowerCase() === input.name.trim().toLowerCase() && x.id !== except);
    if (same) throw conflict(`A resource group named "${same.name}" exists already.`, 'resourcepool.duplicate');
    for (const res of input.resources) {
      if (res.kind === 'appserver' && !(await r.appservers.get(res.id))) throw invalid(`Application server ${res.id} does not exist.`, 'resourcepool.resource');
    }
  }

  return {
    get,
    list: (_actor: Actor) => store.resourcePools.all(),

    async create(_actor: Actor, input: PoolInput): Promise<ResourcePool> {
      return store.transaction(async (r) => {
        await check(r, input);
        return r.resourcePools.create({ name: input.name.trim(), description: input.description ?? '', resources: input.resources }, clock.now());
      });
    },

    async update(actor: Actor, id: number, input: Partial<PoolInput>): Promise<ResourcePool> {
      const pool = await get(actor, id);
      if (pool.builtIn) throw notAllowed(`${pool.name} is built in and cannot be changed.`, 'resourcepool.built-in');
      const next = { name: input.name?.trim() ?? pool.name, description: input.description ?? pool.description, resources: input.resources ?? pool.resources };
      await store.transaction(async (r) => {
        await check(r, next, id);
        await r.resourcePools.update(id, next);
        await keepAnAdmin(r);
      });
      auth.forgetAccess();
      return { ...pool, ...next };
    },

    async delete(actor: Actor, id: number): Promise<void> {
      const pool = await get(actor, id);
      if (pool.builtIn) throw notAllowed(`${pool.name} is built in and cannot be deleted.`, 'resourcepool.built-in');
      await store.transaction(async (r) => {
        // A mapping first: taking it from directory users is no use while a mapping gives it back.
        await notMapped(r, { poolId: id }, `Resource group "${pool.name}"`, 'resourcepool.in-use');
        const users = await r.permissionSets.usersWith({ poolId: id });
        if (users) throw conflict(`Resource group "${pool.name}" is used by ${users} user(s); take it from them first.`, 'resourcepool.in-use');
        await r.resourcePools.delete(id);
      });
      auth.forgetAccess();
    },
  };
}

export type RoleService = ReturnType<typeof roleService>;
export type ResourcePoolService = ReturnType<typeof resourcePoolService>;
