/** A caller's Access, worked out from permission sets and the roles and groups they name. */
import { Access, type PermissionSet, type ResourcePool, type Role } from '../core/permissions.ts';
import type { Repositories } from '../store/index.ts';

export async function accessFromSets(r: Pick<Repositories, 'roles' | 'resourcePools'>, sets: readonly PermissionSet[]): Promise<Access> {
  const roles = new Map<number, Role>();
  const pools = new Map<number, ResourcePool>();
  for (const s of sets) {
    if (!roles.has(s.roleId)) {
      const role = await r.roles.get(s.roleId);
      if (role) roles.set(role.id, role);
    }
    if (!pools.has(s.poolId)) {
      const pool = await r.resourcePools.get(s.poolId);
      if (pool) pools.set(pool.id, pool);
    }
  }
  return Access.of(sets, roles, pools);
}
