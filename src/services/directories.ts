/**
 * Directory (LDAP) servers and the mappings of their groups to permission sets (docs/compat.md
 * "Directory login"): register, change, remove and test a directory; map a group to a role on a
 * resource group. The service account's password is sealed when it comes in and never leaves:
 * views carry the settings without it. Logging in through a directory is directory-login.ts's.
 */
import type { Actor } from '../core/actor.ts';
import { conflict, invalid, notFound } from '../core/errors.ts';
import { checkConfig, testConnection, type DirectoryConfig, type DirectoryTestResult } from '../directory/ldap.ts';
import type { GroupMapping, StoredDirectory } from '../store/directories.ts';
import type { AuthService } from './auth.ts';
import type { ServiceContext } from './context.ts';
import { directoryConfig, normalizeDn } from './directory-login.ts';
import { keepAnAdmin } from './users.ts';

/** A directory's settings as they come in; bindPassword is write-only. */
export interface DirectoryInput extends Omit<DirectoryConfig, 'startTls' | 'tlsVerify'> {
  name: string;
  /** Default: true for ldap:// (which needs it), false for ldaps://. */
  startTls?: boolean;
  /** Default: true. */
  tlsVerify?: boolean;
}

/** What a change gives: a field left out stays; null removes an optional setting. */
export type DirectoryChanges = {
  [K in keyof DirectoryInput]?: undefined extends DirectoryInput[K] ? DirectoryInput[K] | null : DirectoryInput[K];
};

/** The settings that say where the server is and how far it is trusted. */
const REACH: readonly (keyof DirectoryConfig)[] = ['url', 'startTls', 'tlsVerify', 'caCert'];
/** Optional settings, which a change may remove (null). */
const OPTIONAL: readonly (keyof DirectoryConfig)[] = ['caCert', 'usernameAttribute', 'groupBase', 'groupFilter', 'timeoutMs'];

/** A directory as the API shows it: no password. */
export interface DirectoryView {
  id: number;
  name: string;
  config: Omit<DirectoryConfig, 'bindPassword'>;
  createdAt: number;
}

export interface MappingInput {
  groupDn: string;
  roleId: number;
  poolId: number;
}

const checkName = (name: unknown) => {
  if (typeof name !== 'string' || !name.trim() || name.length > 128) throw invalid('A directory needs a "name" of 1 to 128 characters.', 'directory.name');
};

const withoutPassword = ({ bindPassword: _, ...rest }: DirectoryConfig): Omit<DirectoryConfig, 'bindPassword'> => rest;

const view = (d: StoredDirectory): DirectoryView => ({
  id: d.id, name: d.name, config: d.config as unknown as Omit<DirectoryConfig, 'bindPassword'>, createdAt: d.createdAt,
});

/** The settings with the defaults filled in and nothing else (unknown properties are not stored). */
function settings(input: Partial<DirectoryConfig>): DirectoryConfig {
  const secure = typeof input.url === 'string' && /^\s*ldaps:/i.test(input.url);
  const config: DirectoryConfig = {
    url: input.url as string,
    startTls: input.startTls ?? !secure,
    tlsVerify: input.tlsVerify ?? true,
    bindDn: input.bindDn as string,
    bindPassword: input.bindPassword as string,
    userBase: input.userBase as string,
    userFilter: input.userFilter as string,
  };
  for (const k of OPTIONAL) if (input[k] !== undefined && input[k] !== null) (config as unknown as Record<string, unknown>)[k] = input[k];
  checkConfig(config);
  return config;
}

export function directoryService(ctx: ServiceContext, auth: AuthService) {
  const { store, clock, secrets } = ctx;

  async function stored(id: number): Promise<StoredDirectory> {
    const d = await store.directories.get(id);
    if (!d) throw notFound('Directory', id);
    return d;
  }

  async function unique(name: string, except?: number) {
    const same = (await store.directories.all()).find((d) => d.name.toLowerCase() === name.trim().toLowerCase() && d.id !== except);
    if (same) throw conflict(`A directory named "${same.name}" exists already.`, 'directory.duplicate');
  }

  return {
    list: async (_actor: Actor): Promise<DirectoryView[]> => (await store.directories.all()).map(view),

    get: async (_actor: Actor, id: number): Promise<DirectoryView> => view(await stored(id)),

    async register(_actor: Actor, input: DirectoryInput): Promise<DirectoryView> {
      checkName(input.name);
      const config = settings(input);
      await unique(input.name);
      const d = await store.directories.create({
        name: input.name.trim(), config: withoutPassword(config), bindSecret: secrets.seal(config.bindPassword), createdAt: clock.now(),
      });
      return view(d);
    },

    /**
     * Changes what is given. A change of where the server is or how far it is trusted (url,
     * startTls, tlsVerify, caCert) needs bindPassword again: otherwise whoever may edit the
     * directory could point it at a server of theirs and receive the stored password.
     */
    async update(_actor: Actor, id: number, changes: DirectoryChanges): Promise<DirectoryView> {
      const d = await stored(id);
      if (changes.name !== undefined) checkName(changes.name);
      const before = d.config as Record<string, unknown>;
      const moved = REACH.some((k) => changes[k] !== undefined && JSON.stringify(changes[k] ?? undefined) !== JSON.stringify(before[k]));
      if (moved && (changes.bindPassword === undefined || changes.bindPassword === null)) {
        throw invalid('Changing url, startTls, tlsVerify or caCert needs the service account\'s "bindPassword" again.', 'directory.bindPassword');
      }
      const merged: Record<string, unknown> = { ...before };
      for (const [k, v] of Object.entries(changes)) {
        if (k === 'name' || v === undefined) continue;
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      const newPassword = typeof changes.bindPassword === 'string' ? changes.bindPassword : undefined;
      const config = settings({ ...(merged as Partial<DirectoryConfig>), bindPassword: newPassword ?? directoryConfig(d, (s) => secrets.open(s)).bindPassword });
      const name = changes.name?.trim() ?? d.name;
      await unique(name, id);
      await store.directories.update(id, { name, config: withoutPassword(config), ...(newPassword !== undefined ? { bindSecret: secrets.seal(newPassword) } : {}) });
      return view((await store.directories.get(id))!);
    },

    /**
     * Removes the directory with its mappings and the users it made (their sessions end):
     * nobody could log in as them any more. Refused when that would leave nobody who can
     * manage users.
     */
    async delete(_actor: Actor, id: number): Promise<void> {
      await stored(id);
      const removed = await store.transaction(async (r) => {
        const users = await r.directories.userIdsOf(id);
        for (const u of users) await r.users.delete(u);
        if (!(await r.directories.delete(id))) throw notFound('Directory', id);
        await keepAnAdmin(r);
        return users;
      });
      auth.forgetAccess();
      for (const u of removed) await auth.endSessionsOf(u);
    },

    /** The connection test: connect, TLS, the service account's bind, the user and group bases. */
    async test(_actor: Actor, id: number): Promise<DirectoryTestResult> {
      const d = await stored(id);
      return testConnection(directoryConfig(d, (s) => secrets.open(s)));
    },

    async mappings(_actor: Actor, id: number): Promise<GroupMapping[]> {
      await stored(id);
      return store.directories.mappings(id);
    },

    /**
     * Maps a group to a role on a resource group. A directory user holds, from their next login
     * on, the sets of every mapping whose group they are in.
     */
    async addMapping(_actor: Actor, id: number, input: MappingInput): Promise<GroupMapping> {
      await stored(id);
      if (typeof input.groupDn !== 'string' || !input.groupDn.trim() || input.groupDn.length > 1024 || !input.groupDn.includes('=')) {
        throw invalid('A mapping needs the group\'s DN, "groupDn" (e.g. "cn=operators,ou=groups,dc=example,dc=com").', 'directory.groupDn');
      }
      if (!Number.isInteger(input.roleId) || !(await store.roles.get(input.roleId))) throw invalid(`Role ${String(input.roleId)} does not exist.`, 'directory.role');
      if (!Number.isInteger(input.poolId) || !(await store.resourcePools.get(input.poolId))) {
        throw invalid(`Resource group ${String(input.poolId)} does not exist.`, 'directory.resourcepool');
      }
      const dn = normalizeDn(input.groupDn);
      const same = (await store.directories.mappings(id)).find((m) => normalizeDn(m.groupDn) === dn && m.roleId === input.roleId && m.poolId === input.poolId);
      if (same) throw conflict(`Group "${input.groupDn.trim()}" is mapped to this role and resource group already (mapping ${same.id}).`, 'directory.mapping-duplicate');
      return store.directories.addMapping({ directoryId: id, groupDn: input.groupDn.trim(), roleId: input.roleId, poolId: input.poolId });
    },

    /**
     * Removes a mapping; the users it gave sets to keep them until their next login. Refused when
     * it backs the last user who can manage users (users.ts someoneManagesUsers): their next
     * login would take that away.
     */
    async deleteMapping(_actor: Actor, id: number, mappingId: number): Promise<void> {
      await stored(id);
      await store.transaction(async (r) => {
        const m = await r.directories.mapping(mappingId);
        if (!m || m.directoryId !== id) throw notFound('Directory group mapping', mappingId);
        await r.directories.deleteMapping(mappingId);
        await keepAnAdmin(r);
      });
    },
  };
}

export type DirectoryService = ReturnType<typeof directoryService>;
