/**
 * Users (spec §11.1): create, change, disable, delete, change a password, and the permission sets
 * each holds. The rule that keeps Census manageable: some enabled user can always manage users,
 * so the last one cannot be deleted, disabled or demoted.
 */
import type { Actor } from '../core/actor.ts';
import { conflict, forbidden, invalid, notAllowed, notFound } from '../core/errors.ts';
import { hashPassword, verifyPassword } from '../core/password.ts';
import { USER_ADMIN, type PermissionSet } from '../core/permissions.ts';
import { accessFromSets } from './access.ts';
import type { User } from '../core/types.ts';
import type { Repositories } from '../store/index.ts';
import type { AuthService } from './auth.ts';
import type { ServiceContext } from './context.ts';

export interface UserInput {
  name: string;
  password: string;
  permissions: PermissionSet[];
}

export interface UserChanges {
  name?: string;
  disabled?: boolean;
  permissions?: PermissionSet[];
  /** A new password set by someone else: the user must change it at the next login. */
  password?: string;
}

/** A user with the permission sets they hold. */
export interface UserView {
  user: User;
  permissions: PermissionSet[];
}

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;

export function checkPassword(password: string, field = 'password'): void {
  if (password.length < 8 || password.length > 1024) throw invalid(`"${field}" must be 8 to 1024 characters.`, 'user.password-length');
}

/** Whether the permission sets (of an enabled user) let them manage users. */
export async function managesUsers(r: Repositories, sets: readonly PermissionSet[]): Promise<boolean> {
  const access = await accessFromSets(r, sets);
  return USER_ADMIN.every((p) => access.can(p));
}

/**
 * Whether some enabled user can manage users. A directory user counts only with the sets a
 * mapping of their directory still gives (the same role on the same resource group): their next
 * login replaces what they hold with what the mappings give, so a set no mapping backs is about
 * to go. Census does not know a directory user's groups between logins, so a set another
 * mapping (of another group) also gives still counts.
 */
export async function someoneManagesUsers(r: Repositories): Promise<boolean> {
  const sets = await r.permissionSets.all();
  const mapped = new Set((await r.directories.allMappings()).map((m) => `${m.directoryId}:${m.roleId}:${m.poolId}`));
  for (const u of await r.users.all()) {
    if (u.disabled) continue;
    const held = sets.get(u.id) ?? [];
    const lasting = u.type === 'LDAP_USER' ? held.filter((s) => mapped.has(`${u.directoryId}:${s.roleId}:${s.poolId}`)) : held;
    if (await managesUsers(r, lasting)) return true;
  }
  return false;
}

/**
 * Refuses a change after which no enabled user could manage users. Runs inside the transaction
 * that makes the change, after it, so it sees the result.
 */
export async function keepAnAdmin(r: Repositories): Promise<void> {
  if (await someoneManagesUsers(r)) return;
  throw notAllowed('This would leave no enabled user who can manage users; give another user that role first.', 'user.last-admin');
}

export function userService(ctx: ServiceContext, auth: AuthService) {
  const { store, clock } = ctx;

  async function checkSets(r: Repositories, sets: readonly PermissionSet[]): Promise<void> {
    for (const s of sets) {
      if (!(await r.roles.get(s.roleId))) throw invalid(`Role ${s.roleId} does not exist.`, 'user.unknown-role');
      if (!(await r.resourcePools.get(s.poolId))) throw invalid(`Resource group ${s.poolId} does not exist.`, 'user.unknown-pool');
    }
  }

  async function view(r: Repositories, user: User): Promise<UserView> {
    return { user, permissions: await r.permissionSets.of(user.id) };
  }

  async function get(_actor: Actor, id: number): Promise<UserView> {
    const u = await store.users.byId(id);
    if (!u) throw notFound('User', id);
    return view(store, u);
  }

  return {
    get,

    async list(_actor: Actor): Promise<UserView[]> {
      const sets = await store.permissionSets.all();
      return (await store.users.all()).map((user) => ({ user, permissions: sets.get(user.id) ?? [] }));
    },

    /** A new user must set their own password at the first login. */
    async create(_actor: Actor, input: UserInput): Promise<UserView> {
      if (!NAME.test(input.name)) throw invalid('"name" must be 1 to 64 letters, digits or . _ @ -', 'user.name');
      checkPassword(input.password);
      const hash = await hashPassword(input.password);
      const made = await store.transaction(async (r) => {
        if (await r.users.byName(input.name)) throw conflict(`A user named "${input.name}" exists already.`, 'user.duplicate');
        await checkSets(r, input.permissions);
        const u = await r.users.create(input.name, hash, clock.now(), { passwordExpired: true });
        await r.permissionSets.set(u.id, input.permissions);
        return view(r, u);
      });
      auth.forgetAccess();
      return made;
    },

    async update(actor: Actor, id: number, changes: UserChanges): Promise<UserView> {
      if (changes.name !== undefined && !NAME.test(changes.name)) throw invalid('"name" must be 1 to 64 letters, digits or . _ @ -', 'user.name');
      if (changes.password !== undefined) checkPassword(changes.password);
      const hash = changes.password !== undefined ? await hashPassword(changes.password) : undefined;
      let renamed = false;
      const updated = await store.transaction(async (r) => {
        const u = await r.users.byId(id);
        if (!u) throw notFound('User', id);
        // Its directory checks a directory user's password: a password of Census's own would be a second way in.
        if (hash !== undefined && u.type === 'LDAP_USER') throw notAllowed(`${u.name} logs in with a directory password; change it in the directory.`, 'user.directory');
        renamed = changes.name !== undefined && changes.name !== u.name;
        if (changes.name !== undefined && changes.name !== u.name && (await r.users.byName(changes.name))) {
          throw conflict(`A user named "${changes.name}" exists already.`, 'user.duplicate');
        }
        if (changes.permissions) {
          await checkSets(r, changes.permissions);
          await r.permissionSets.set(id, changes.permissions);
        }
        await r.users.update(id, {
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
        });
        if (hash !== undefined) {
          await r.users.setPassword(id, hash, clock.now());
          // Set by someone else: only its owner should know it for long.
          if (!(actor.kind === 'user' && actor.userId === id)) await r.users.update(id, { passwordExpired: true });
        }
        await keepAnAdmin(r);
        return view(r, (await r.users.byId(id))!);
      });
      auth.forgetAccess();
      // A disabled user, or one whose password someone else set, keeps no session; neither does
      // one whose name changed (sessions carry the name the logs record).
      if (changes.disabled || hash !== undefined || renamed) await auth.endSessionsOf(id);
      return updated;
    },

    async delete(_actor: Actor, id: number): Promise<void> {
      await store.transaction(async (r) => {
        if (!(await r.users.delete(id))) throw notFound('User', id);
        await keepAnAdmin(r);
      });
      auth.forgetAccess();
      await auth.endSessionsOf(id);
    },

    /**
     * SPP's `?action=changePassword`: the current password must be given, whoever asks; someone
     * other than the user needs permission to change users as well. Ends the user's other sessions.
     */
    async changePassword(actor: Actor, id: number, oldPassword: string, newPassword: string, keepSessionId?: string): Promise<void> {
      const self = actor.kind === 'user' && actor.userId === id;
      if (!self && !actor.access.can('user.edit')) throw forbidden('Only the user, or someone who may change users, can change a password.', 'user.password-other');
      const u = await store.users.byId(id);
      if (!u) throw notFound('User', id);
      if (u.type === 'LDAP_USER') throw notAllowed(`${u.name} logs in with a directory password; change it in the directory.`, 'user.directory');
      if (!(await verifyPassword(oldPassword, u.passwordHash))) throw invalid('"oldPassword" is not the current password.', 'user.old-password');
      checkPassword(newPassword, 'newPassword');
      if (newPassword === oldPassword) throw invalid('"newPassword" must differ from the current password.', 'user.same-password');
      await auth.changePassword({ userId: id, sessionId: self && keepSessionId ? keepSessionId : '' }, newPassword);
    },
  };
}

export type UserService = ReturnType<typeof userService>;
