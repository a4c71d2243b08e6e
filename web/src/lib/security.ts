/** What the System Configuration pages share about users' permission sets (a role on a resource group). */
import { get } from '../api/client';
import type { Envelope, ResourcePool, Role, User } from '../api/types';
import { usePolled } from './usePolled';

/** One (role, resource group) pair a user holds, by id, as PUT /api/security/user/{id} takes it. */
export interface PermissionPair {
  roleId: string;
  poolId: string;
}

interface Named {
  id: string;
  name: string | null;
}
/** How a user's permission sets come on the wire: one entry per resource group, with its roles. */
interface PermissionSetWire {
  resourcePool: Named;
  roles: Named[];
}

const setsOf = (u: User) => u.permissions as unknown as PermissionSetWire[];

/** A user's pairs, one per (role, group). */
export function pairsOf(u: User): PermissionPair[] {
  return setsOf(u).flatMap((s) => s.roles.map((r) => ({ roleId: r.id, poolId: s.resourcePool.id })));
}

/** The body's `permissions`: SPP's shape, one entry per pair. */
export const permissionsBody = (pairs: readonly PermissionPair[]) => pairs.map((p) => ({ resourcePoolId: p.poolId, roleIds: [p.roleId] }));

/** "Monitor on All Resources; Inventory Operator on Team A". */
export function permissionText(u: User): string {
  const sets = setsOf(u);
  if (!sets.length) return 'No roles';
  return sets.map((s) => `${s.roles.map((r) => r.name ?? r.id).join(', ')} on ${s.resourcePool.name ?? s.resourcePool.id}`).join('; ');
}

export interface Choices {
  roles: Role[];
  pools: ResourcePool[];
}

/** Roles and resource groups, for the pickers of a permission set. */
export function useRolesAndGroups() {
  return usePolled<Choices>(
    async (signal) => {
      const [roles, pools] = await Promise.all([
        get<Envelope & { roles: Role[] }>('/api/security/role', signal),
        get<Envelope & { resourcePools: ResourcePool[] }>('/api/security/resourcepool', signal),
      ]);
      return { roles: roles.roles, pools: pools.resourcePools };
    },
    'roles-and-groups',
  );
}

/** "Monitor on All Resources", from the lists (the id when a name is unknown). */
export function pairText(p: PermissionPair, c: Choices | undefined): string {
  const role = c?.roles.find((r) => r.id === p.roleId)?.name ?? `role ${p.roleId}`;
  const pool = c?.pools.find((g) => g.id === p.poolId)?.name ?? `group ${p.poolId}`;
  return `${role} on ${pool}`;
}
