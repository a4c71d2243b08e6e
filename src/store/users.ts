/** Users, login sessions and the counters of failed logins. */
import { createHash } from 'node:crypto';
import type { LoginSession, User } from '../core/types.ts';
import { bool, type Db } from './rows.ts';
import type { UsersTable } from './schema.ts';
import type { Selectable } from 'kysely';

const toUser = (r: Selectable<UsersTable>): User => ({
  ...r, type: r.type === 'LDAP_USER' ? 'LDAP_USER' : 'NATIVE_USER', disabled: bool(r.disabled), passwordExpired: bool(r.passwordExpired),
});

export class UserRepository {
  constructor(private db: Db) {}

  async byName(name: string): Promise<User | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    return r && toUser(r);
  }

  async byId(id: number): Promise<User | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toUser(r);
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async create(name: string, passwordHash: string, now: number, opts: { passwordExpired?: boolean; directory?: { id: number; dn: string } } = {}): Promise<User> {
    const r = await this.db
      .insertInto('users')
      .values({
        name, passwordHash, type: opts.directory ? 'LDAP_USER' : 'NATIVE_USER', createdAt: now, loginCount: 0, failedLogin: 0, lastPasswordUpdate: now,
        passwordExpired: opts.passwordExpired ? 1 : 0, directoryId: opts.directory?.id ?? null, dn: opts.directory?.dn ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toUser(r);
  }

  async all(): Promise<User[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('id').execute()).map(toUser);
  }

  async update(id: number, changes: { name?: string; disabled?: boolean; passwordExpired?: boolean; dn?: string | null }): Promise<void> {
    const { disabled, passwordExpired, ...rest } = changes;
    if (!Object.values(changes).some((v) => v !== undefined)) return;
    await this.db.updateTable('users').set({
      ...rest,
      ...(disabled !== undefined ? { disabled: disabled ? 1 : 0 } : {}),
      ...(passwordExpired !== undefined ? { passwordExpired: passwordExpired ? 1 : 0 } : {}),
    }).where('id', '=', id).execute();
  }

  async delete(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  async setPassword(id: number, passwordHash: string, now: number): Promise<void> {
    await this.db.updateTable('users').set({ passwordHash, lastPasswordUpdate: now, passwordExpired: 0 }).where('id', '=', id).execute();
  }

  async recordLogin(id: number, ok: boolean, now: number): Promise<void> {
    await this.db
      .updateTable('users')
      .set((eb) =>
        ok
          ? { lastLogin: now, loginCount: eb('loginCount', '+', 1) }
          : { lastFailedLogin: now, failedLogin: eb('failedLogin', '+', 1) },
      )
      .where('id', '=', id)
      .execute();
  }
}

/** Hex SHA-256 of a text: how login session ids (and user names of failed logins) are kept. */
export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Login sessions, stored under the SHA-256 of their id: whoever reads the database (a backup, a
 * stolen disk) finds no id a client could send. The ids are 128 random bits, so a plain fast hash
 * is enough (nothing to guess by brute force). Callers pass and get the clear id.
 */
export class LoginSessionRepository {
  constructor(private db: Db) {}

  async create(s: LoginSession): Promise<void> {
    await this.db.insertInto('loginSessions')
      .values({ idHash: sha256Hex(s.id), userId: s.userId, createdAt: s.createdAt, lastAccess: s.lastAccess })
      .execute();
  }

  /** The session and the name of its user, in one read (every authenticated request on PostgreSQL makes it). */
  async get(id: string): Promise<(LoginSession & { userName: string }) | undefined> {
    const r = await this.db.selectFrom('loginSessions')
      .innerJoin('users', 'users.id', 'loginSessions.userId')
      .select(['loginSessions.userId', 'loginSessions.createdAt', 'loginSessions.lastAccess', 'users.name as userName'])
      .where('loginSessions.idHash', '=', sha256Hex(id)).executeTakeFirst();
    return r && { id, ...r };
  }

  async touch(id: string, now: number): Promise<void> {
    await this.db.updateTable('loginSessions').set({ lastAccess: now }).where('idHash', '=', sha256Hex(id)).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('loginSessions').where('idHash', '=', sha256Hex(id)).execute();
  }

  /** Ends every session of a user but `keepId` (a password change); returns how many ended. */
  async deleteOfUser(userId: number, keepId?: string): Promise<number> {
    let q = this.db.deleteFrom('loginSessions').where('userId', '=', userId);
    if (keepId !== undefined) q = q.where('idHash', '!=', sha256Hex(keepId));
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async deleteIdleSince(cutoff: number): Promise<number> {
    const r = await this.db.deleteFrom('loginSessions').where('lastAccess', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

/** What failed logins are counted by (services/auth.ts has the policy). */
export type LoginFailureKind = 'address' | 'name';

export interface LoginFailure {
  kind: LoginFailureKind;
  /** The address, or the SHA-256 of the user name (names tried are sometimes passwords typed in the wrong field). */
  subject: string;
  failures: number;
  windowStart: number;
  lockedUntil: number | null;
}

export class LoginFailureRepository {
  constructor(private db: Db) {}

  async get(kind: LoginFailureKind, subject: string): Promise<LoginFailure | undefined> {
    const r = await this.db.selectFrom('loginFailures').selectAll()
      .where('kind', '=', kind).where('subject', '=', subject).executeTakeFirst();
    return r && { ...r, kind: r.kind as LoginFailureKind };
  }

  async put(f: LoginFailure): Promise<void> {
    await this.db
      .insertInto('loginFailures')
      .values(f)
      .onConflict((oc) => oc.columns(['kind', 'subject']).doUpdateSet({ failures: f.failures, windowStart: f.windowStart, lockedUntil: f.lockedUntil }))
      .execute();
  }

  async clear(kind: LoginFailureKind, subject: string): Promise<void> {
    await this.db.deleteFrom('loginFailures').where('kind', '=', kind).where('subject', '=', subject).execute();
  }

  /** Removes counters whose window is over and that lock nothing, so made-up names do not pile up. */
  async deleteStale(windowStartBefore: number, now: number): Promise<void> {
    await this.db.deleteFrom('loginFailures')
      .where('windowStart', '<', windowStartBefore)
      .where((eb) => eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<=', now)]))
      .execute();
  }
}
