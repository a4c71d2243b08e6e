/** Users, login sessions and the per-address record of failed logins. */
import type { LoginSession, User } from '../core/types.ts';
import type { Db } from './rows.ts';
import type { UsersTable } from './schema.ts';
import type { Selectable } from 'kysely';

const toUser = (r: Selectable<UsersTable>): User => ({ ...r, type: 'NATIVE_USER' });

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

  async create(name: string, passwordHash: string, now: number): Promise<User> {
    const r = await this.db
      .insertInto('users')
      .values({ name, passwordHash, type: 'NATIVE_USER', createdAt: now, loginCount: 0, failedLogin: 0, lastPasswordUpdate: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toUser(r);
  }

  async setPassword(id: number, passwordHash: string, now: number): Promise<void> {
    await this.db.updateTable('users').set({ passwordHash, lastPasswordUpdate: now }).where('id', '=', id).execute();
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

export class LoginSessionRepository {
  constructor(private db: Db) {}

  async create(s: LoginSession): Promise<void> {
    await this.db.insertInto('loginSessions').values(s).execute();
  }

  async get(id: string): Promise<LoginSession | undefined> {
    return this.db.selectFrom('loginSessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async touch(id: string, now: number): Promise<void> {
    await this.db.updateTable('loginSessions').set({ lastAccess: now }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('loginSessions').where('id', '=', id).execute();
  }

  async deleteIdleSince(cutoff: number): Promise<number> {
    const r = await this.db.deleteFrom('loginSessions').where('lastAccess', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

export interface LoginFailure {
  address: string;
  failures: number;
  windowStart: number;
  lockedUntil: number | null;
}

export class LoginFailureRepository {
  constructor(private db: Db) {}

  async get(address: string): Promise<LoginFailure | undefined> {
    return this.db.selectFrom('loginFailures').selectAll().where('address', '=', address).executeTakeFirst();
  }

  async put(f: LoginFailure): Promise<void> {
    await this.db
      .insertInto('loginFailures')
      .values(f)
      .onConflict((oc) => oc.column('address').doUpdateSet({ failures: f.failures, windowStart: f.windowStart, lockedUntil: f.lockedUntil }))
      .execute();
  }

  async clear(address: string): Promise<void> {
    await this.db.deleteFrom('loginFailures').where('address', '=', address).execute();
  }
}
