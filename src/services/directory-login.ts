/**
 * Logging in with a directory password (docs/ldap.md, docs/compat.md "Directory login"). The auth
 * service asks here for a name that is no native user's: each registered directory is tried in
 * turn (the user's own only, once they have logged in before) until one knows the name. A user the
 * directory accepts becomes (or stays) an LDAP_USER whose permission sets are replaced by those
 * the group mappings give for the groups they are in now; someone in no mapped group is refused.
 *
 * Whatever goes wrong, the caller learns only "refused", exactly as for a wrong native password:
 * why (a wrong password, no mapped group, an unreachable server) goes to the server log, never to
 * the person logging in, so a login form does not tell which names exist. The typed name is not
 * logged unless the directory knew it (names tried are sometimes passwords typed in the wrong field).
 */
import { randomBytes } from 'node:crypto';
import type { PermissionSet } from '../core/permissions.ts';
import type { User } from '../core/types.ts';
import { authenticate, DirectoryError, type DirectoryConfig, type DirectoryUser } from '../directory/ldap.ts';
import type { StoredDirectory } from '../store/directories.ts';
import type { Repositories } from '../store/index.ts';
import type { ServiceContext } from './context.ts';
import { managesUsers, someoneManagesUsers } from './users.ts';

/** Serializes first logins of one name across processes (Repositories.lock). */
const FIRST_LOGIN_LOCK = 4242011;

/**
 * A DN in one spelling for comparison: attribute names and values lower-cased, spaces around
 * `,` and `=` dropped (LDAP compares these case-insensitively for the usual group attributes).
 * An escaped comma (`\,`) stays part of its value.
 */
export function normalizeDn(dn: string): string {
  return dn
    .trim()
    .split(/(?<!\\),/)
    .map((rdn) => rdn.split(/(?<!\\)=/).map((s) => s.trim()).join('='))
    .join(',')
    .toLowerCase();
}

/** A directory's full settings: the stored ones with the bind password opened. */
export function directoryConfig(d: StoredDirectory, open: (sealed: string) => string): DirectoryConfig {
  return { ...(d.config as unknown as Omit<DirectoryConfig, 'bindPassword'>), bindPassword: d.bindSecret ? open(d.bindSecret) : '' };
}

/**
 * What a directory login came to. `user` is the Census user it concerns when there is one (a
 * refused login counts against them); `ok` whether they may log in.
 */
export interface DirectoryLoginResult {
  user: User | undefined;
  ok: boolean;
}

export function directoryLogin(ctx: Pick<ServiceContext, 'store' | 'clock' | 'secrets'>, log: (line: string) => void = (line) => console.warn(line)) {
  const { store, clock, secrets } = ctx;

  /** The permission sets the mappings give for these groups, leaving out mappings whose role or group is gone. */
  async function setsFor(directoryId: number, groups: readonly string[]): Promise<PermissionSet[]> {
    const held = new Set(groups.map(normalizeDn));
    const sets: PermissionSet[] = [];
    for (const m of await store.directories.mappings(directoryId)) {
      if (!held.has(normalizeDn(m.groupDn))) continue;
      if (!(await store.roles.get(m.roleId)) || !(await store.resourcePools.get(m.poolId))) continue;
      sets.push({ roleId: m.roleId, poolId: m.poolId });
    }
    return sets;
  }

  /**
   * Replaces a directory user's sets with what their groups give now, unless that would leave no
   * enabled user who can manage users (the rule users.ts keeps for every change): then they keep
   * what they held as well, and the server log says so. Their directory took them out of the
   * group; Census cannot stop that, but it does not lock itself out of user management because of it.
   */
  async function replaceSets(r: Repositories, user: User, sets: PermissionSet[]): Promise<void> {
    const before = await r.permissionSets.of(user.id);
    await r.permissionSets.set(user.id, sets);
    // Only a login that takes user management away from them can leave nobody with it.
    if (!(await managesUsers(r, before)) || (await managesUsers(r, sets)) || (await someoneManagesUsers(r))) return;
    const kept = [...sets, ...before.filter((b) => !sets.some((s) => s.roleId === b.roleId && s.poolId === b.poolId))];
    await r.permissionSets.set(user.id, kept);
    log(`census: directory login of "${user.name}": their groups no longer let them manage users, but no other enabled user can; ` +
      'they keep the permission sets they held until another user can manage users.');
  }

  /** The directory accepted the password: make or update the user, with the sets their groups give. */
  async function admit(d: StoredDirectory, found: DirectoryUser): Promise<DirectoryLoginResult> {
    const sets = await setsFor(d.id, found.groups);
    return store.transaction(async (r) => {
      await r.lock(FIRST_LOGIN_LOCK);
      const user = await r.users.byName(found.username);
      if (user && (user.type !== 'LDAP_USER' || user.directoryId !== d.id)) {
        log(`census: directory login refused: "${found.username}" of directory "${d.name}" is the name of ${user.type === 'LDAP_USER' ? "another directory's user" : 'a native user'}.`);
        return { user: undefined, ok: false };
      }
      if (!sets.length) {
        // Their groups no longer give them anything: take away what an earlier login gave.
        if (user) await replaceSets(r, user, []);
        log(`census: directory login refused: "${found.username}" (${found.dn}) of directory "${d.name}" is in no mapped group ` +
          `(groups: ${found.groups.length ? found.groups.join('; ') : 'none'}).`);
        return { user, ok: false };
      }
      // No password of Census's own: the hash is not one verifyPassword could ever accept.
      const made = user ?? (await r.users.create(found.username, `directory$${randomBytes(16).toString('hex')}`, clock.now(), { directory: { id: d.id, dn: found.dn } }));
      if (user) await r.users.update(user.id, { dn: found.dn, passwordExpired: false });
      if (user) await replaceSets(r, user, sets);
      else await r.permissionSets.set(made.id, sets);
      return { user: (await r.users.byId(made.id))!, ok: true };
    });
  }

  return {
    /**
     * Checks the password with the directories. `existing` is the user of that name, if any (an
     * LDAP_USER: native users never come here). Undefined when no directory applies (none is
     * registered and the name is nobody's): the caller then refuses as for an unknown name.
     */
    async login(credentials: { user: string; password: string }, existing: User | undefined): Promise<DirectoryLoginResult | undefined> {
      let directories: StoredDirectory[];
      if (existing) {
        const own = existing.directoryId !== null ? await store.directories.get(existing.directoryId) : undefined;
        if (!own) {
          log(`census: directory login refused: the directory of "${existing.name}" is no longer registered.`);
          return { user: existing, ok: false };
        }
        directories = [own];
      } else {
        directories = await store.directories.all();
        if (!directories.length) return undefined;
      }
      for (const d of directories) {
        try {
          const config = directoryConfig(d, (sealed) => secrets.open(sealed));
          return await admit(d, await authenticate(config, credentials.user, credentials.password));
        } catch (err) {
          // The name is not this directory's: the next one may know it.
          if (err instanceof DirectoryError && err.code === 'no-such-user') continue;
          // A name the directory knew is safe to log; one it could not be asked about may not be a name.
          const known = err instanceof DirectoryError && (err.code === 'bad-credentials' || err.code === 'ambiguous-user');
          const about = existing ? `"${existing.name}"` : known ? JSON.stringify(credentials.user) : 'a user';
          const why = err instanceof DirectoryError ? `${err.code}: ${err.description}` : (err as Error).message;
          log(`census: directory login of ${about} through directory "${d.name}" failed (${why})`);
          // The directory knew the name and refused the password (or the name is ambiguous): stop.
          if (known) return { user: existing, ok: false };
          // The directory could not be asked: another one may still know the name.
        }
      }
      return { user: existing, ok: false };
    },
  };
}

export type DirectoryLogin = ReturnType<typeof directoryLogin>;
