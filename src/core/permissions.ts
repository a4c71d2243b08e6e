/**
 * Who may do what, in SPP's terms (spec §11.1): permissions with SPP's keys, roles that bundle
 * them, resource groups that name the application servers a role applies to, and permission sets
 * (a role with a resource group) that a user holds. Pure: the store keeps the records, the auth
 * service turns a user's permission sets into an Access, and the API checks a route's declared
 * permission against it in one place (src/api/access.ts).
 */

/** Every permission Census knows, with what it allows. The keys are SPP's. */
export const PERMISSIONS = {
  'appserver.view': 'See application servers',
  'appserver.register': 'Register application servers',
  'appserver.edit': 'Change application servers and test their connection',
  'appserver.deregister': 'Unregister application servers',
  'application.view': 'See what inventories found (instances, databases, change history)',
  'hypervisor.view': 'See hypervisors and their virtual machines',
  'hypervisor.register': 'Register hypervisors',
  'hypervisor.edit': 'Change hypervisors and test their connection',
  'hypervisor.deregister': 'Unregister hypervisors',
  'identity.view': 'See credentials (never their secrets)',
  'identity.create': 'Create credentials',
  'identity.edit': 'Change credentials',
  'identity.delete': 'Delete credentials',
  'policy.view': 'See jobs, their sessions, tasks and log entries',
  'policy.run': 'Start and cancel jobs (inventory)',
  'policy.edit': 'Hold and release jobs, change their triggers',
  'log.view': 'Read the audit log',
  'user.view': 'See users',
  'user.create': 'Create users',
  'user.edit': 'Change, disable and reset other users',
  'user.delete': 'Delete users',
  'role.view': 'See roles',
  'role.create': 'Create roles',
  'role.edit': 'Change roles',
  'role.delete': 'Delete roles',
  'resourcepool.view': 'See resource groups',
  'resourcepool.create': 'Create resource groups',
  'resourcepool.edit': 'Change resource groups',
  'resourcepool.delete': 'Delete resource groups',
  'apikey.manage': "Create and revoke other users' API keys",
  'ldap.view': 'See directory (LDAP) servers',
  'ldap.edit': 'Register, change and remove directory servers and their group mappings',
  'site.view': 'See sites and the workers that run tasks (/api/vadp)',
  'site.create': 'Create sites',
  'site.edit': 'Change sites',
  'site.delete': 'Delete sites',
  'smtp.view': 'See the mail server settings',
  'smtp.edit': 'Change the mail server settings and the mail recipients, send a test message',
  'alert.view': 'See alerts (/api/endeavour/alert/message) and the alert settings',
  'alert.acknowledge': 'Acknowledge alerts',
  'alert.edit': 'Change the alert settings (stall time, failing runs, watched inventory changes)',
  'webhook.view': 'See webhook endpoints and the deliveries of notifications (never a signing secret)',
  'webhook.edit': 'Register, change, test and remove webhook endpoints; send a delivery again',
  'metrics.view': "Read /metrics, and the Census host's CPU, memory and file systems (/ngp/metrics, /api/endeavour/sysdiag/filesystem)",
  'storage.view': 'See backup storage (SPP: vSnap, cloud; Census keeps none)',
  'storageprofile.view': 'See SLA policies and storage profiles (Census has none)',
} as const;

export type Permission = keyof typeof PERMISSIONS;
export const PERMISSION_IDS = Object.keys(PERMISSIONS) as Permission[];
export const isPermission = (s: string): s is Permission => Object.hasOwn(PERMISSIONS, s);

/** Permissions that only make sense for everything: they are about Census itself, not about servers. */
const GLOBAL_PREFIXES = ['user.', 'role.', 'resourcepool.', 'apikey.', 'ldap.', 'site.', 'smtp.', 'log.', 'metrics.', 'identity.', 'storage.', 'storageprofile.', 'alert.', 'webhook.'];
/** Whether a permission is limited by a resource group (servers and what they hold) or is about Census as a whole. */
export const isScoped = (p: Permission) => !GLOBAL_PREFIXES.some((g) => p.startsWith(g));

/** The permissions that let a user manage users: the last holder cannot be deleted, disabled or demoted. */
export const USER_ADMIN: readonly Permission[] = ['user.edit', 'role.edit'];

export interface Role {
  id: number;
  name: string;
  /** Built-in roles cannot be edited or deleted. */
  builtIn: boolean;
  description: string;
  permissionIds: Permission[];
}

const VIEW_SERVERS: Permission[] = ['appserver.view', 'application.view'];

/**
 * The roles Census ships. Ids are fixed so that permission sets survive an upgrade; custom roles
 * get ids from 2000 on.
 */
export const BUILT_IN_ROLES: readonly Role[] = [
  { id: 1000, name: 'SUPERUSER', builtIn: true, description: 'Everything.', permissionIds: [...PERMISSION_IDS] },
  {
    id: 1001, name: 'Application Admin', builtIn: true,
    description: 'Registers and manages application servers and hypervisors and their credentials, runs and schedules inventory.',
    permissionIds: [...VIEW_SERVERS, 'appserver.register', 'appserver.edit', 'appserver.deregister',
      'hypervisor.view', 'hypervisor.register', 'hypervisor.edit', 'hypervisor.deregister',
      'identity.view', 'identity.create', 'identity.edit', 'identity.delete', 'policy.view', 'policy.run', 'policy.edit', 'site.view',
      'alert.view', 'alert.acknowledge'],
  },
  {
    id: 1002, name: 'Monitor', builtIn: true,
    description: "Read-only: what sppmon and the seed's status check read (jobs, sessions, tasks, log entries, hypervisors and their VMs), and the metrics.",
    permissionIds: ['policy.view', 'site.view', 'metrics.view', 'hypervisor.view', 'storage.view', 'storageprofile.view', 'alert.view'],
  },
  {
    id: 1003, name: 'Inventory Operator', builtIn: true,
    description: 'Runs and cancels inventory of its servers and hypervisors and sees them and what inventory found; no credentials.',
    permissionIds: [...VIEW_SERVERS, 'hypervisor.view', 'policy.view', 'policy.run', 'alert.view', 'alert.acknowledge'],
  },
];
export const SUPERUSER_ROLE_ID = 1000;

/** What a resource group holds: every application server, or these. */
export type PoolResource = { kind: 'appserver.all' } | { kind: 'appserver'; id: number };

export interface ResourcePool {
  id: number;
  name: string;
  description: string;
  builtIn: boolean;
  resources: PoolResource[];
}

/** The built-in group of everything (SPP's "All Resources"). */
export const ALL_RESOURCES_POOL: ResourcePool = {
  id: 1000, name: 'All Resources', description: 'Every application server, now and later.', builtIn: true, resources: [{ kind: 'appserver.all' }],
};

/** A role applied to a resource group: what a user holds (SPP's "permission set"). */
export interface PermissionSet {
  roleId: number;
  poolId: number;
}

/** Which application servers a permission reaches: all of them, or these ids. */
export type Scope = 'all' | ReadonlySet<number>;

/**
 * What one caller may do, worked out once from their permission sets: for each permission held,
 * the servers it reaches. A permission not held is absent.
 */
export class Access {
  private constructor(
    private readonly scopes: ReadonlyMap<Permission, Scope>,
    /** Made by viewOnly(): a read-only API key's, which may change nothing, not even its own keys. */
    readonly readOnly = false,
  ) {}

  /** Everything, everywhere: SUPERUSER, and Census itself (system actors). */
  static readonly everything = new Access(new Map(PERMISSION_IDS.map((p) => [p, 'all' as Scope])));
  static readonly nothing = new Access(new Map());

  /** From a user's permission sets, with the roles and groups they name. */
  static of(sets: readonly PermissionSet[], roles: ReadonlyMap<number, Role>, pools: ReadonlyMap<number, ResourcePool>): Access {
    const scopes = new Map<Permission, 'all' | Set<number>>();
    for (const set of sets) {
      const role = roles.get(set.roleId);
      const pool = pools.get(set.poolId);
      if (!role || !pool) continue;
      const all = pool.resources.some((r) => r.kind === 'appserver.all');
      const ids = pool.resources.flatMap((r) => (r.kind === 'appserver' ? [r.id] : []));
      for (const p of role.permissionIds) {
        // A permission about Census itself is not limited by a group of servers.
        if (all || !isScoped(p)) {
          scopes.set(p, 'all');
          continue;
        }
        const had = scopes.get(p);
        if (had === 'all') continue;
        const merged = had ?? new Set<number>();
        for (const id of ids) merged.add(id);
        scopes.set(p, merged);
      }
    }
    return new Access(scopes);
  }

  can(p: Permission): boolean {
    return this.scopes.has(p);
  }

  /** The servers `p` reaches (an empty set when it is not held). */
  scope(p: Permission): Scope {
    return this.scopes.get(p) ?? new Set<number>();
  }

  /** Whether `p` reaches application server `id`. */
  reaches(p: Permission, id: number): boolean {
    const s = this.scopes.get(p);
    return s === 'all' || (s !== undefined && s.has(id));
  }

  /** The same access with only its `*.view` permissions (a read-only API key's). */
  viewOnly(): Access {
    return new Access(new Map([...this.scopes].filter(([p]) => p.endsWith('.view'))), true);
  }

  /** The permissions held, sorted (what GET /api/endeavour/session's user shows). */
  held(): Permission[] {
    return [...this.scopes.keys()].sort();
  }
}
