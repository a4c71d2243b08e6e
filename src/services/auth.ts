/**
 * Login sessions (spec §2): log in with a user name and password, check a session (a sliding
 * 45-minute idle timeout), log out, change a password; and a brake on repeated failed logins (per
 * address and per user name; see LoginPolicy). Sessions live in the store, under the hash of
 * their id (store/users.ts); a small in-memory map, keyed by the clear id, spares the store a read
 * and a write on every request: on the embedded default (one process owns the database) always,
 * on PostgreSQL while the store's change feed hears other processes end sessions and change
 * users (store/change-feed.ts; everything cached is forgotten at each such change).
 * Whoever holds a session open (the event streams) hears here when it ends: onSessionsEnded.
 *
 * Reading the Basic and session headers is the API's part (src/api/auth.ts). Failures are
 * DomainErrors: 'unauthenticated' ('auth.failed', 'auth.no-credentials', 'auth.no-session',
 * 'auth.expired') and 'rate-limited' ('auth.locked', with the seconds left).
 */
import { randomBytes } from 'node:crypto';
import { notAllowed, rateLimited, unauthenticated } from '../core/errors.ts';
import { newLoginSessionId } from '../core/ids.ts';
import { hashPassword, verifyPassword } from '../core/password.ts';
import type { Access } from '../core/permissions.ts';
import { accessFromSets } from './access.ts';
import type { User } from '../core/types.ts';
import { sha256Hex, type LoginFailure, type LoginFailureKind } from '../store/users.ts';
import { apiKeyCheck, isApiKey } from './apikeys.ts';
import type { ServiceContext } from './context.ts';
import { directoryLogin } from './directory-login.ts';

export const SESSION_IDLE_MS = 45 * 60_000;
/** How often a busy session's last-access time is written through to the store. */
const TOUCH_EVERY_MS = 60_000;
/** How often, at most, the cache is swept of sessions that went idle and were never asked about again. */
const SWEEP_EVERY_MS = 60_000;

/**
 * The brake on guessing passwords. Failed logins are counted twice, per source address and per
 * user name (whether or not the user exists, so the brake tells nothing about which names do):
 * - an address with `maxFailures` failures within `windowMs` is locked out for `lockMs`, whatever
 *   name it tries;
 * - a user name with `maxNameFailures` failures within `windowMs`, from any addresses, is locked
 *   for `lockMs`, but only for addresses that have failed themselves within their own window.
 *   Ten addresses guessing one name are all stopped, while the name's owner, logging in from an
 *   address that has not failed, still gets in.
 * Both raise 'rate-limited' (SPP's 429 XSBTooManyLoginAttemptsException, with Retry-After).
 */
export interface LoginPolicy {
  maxFailures: number;
  /** Default: twice maxFailures. */
  maxNameFailures?: number;
  windowMs: number;
  lockMs: number;
}
export const DEFAULT_LOGIN_POLICY: LoginPolicy = { maxFailures: 5, maxNameFailures: 10, windowMs: 15 * 60_000, lockMs: 60_000 };

/** A user name and password as the caller gave them. */
export interface Credentials {
  user: string;
  password: string;
}

/** A checked login session: who it belongs to. */
export interface Principal {
  userId: number;
  /** The user's name, read with the session: the actor every service call names. */
  name: string;
  sessionId: string;
  /** What the user may do, from their permission sets (core/permissions.ts). */
  access: Access;
  /** Set when an API key stands in for the session (then `sessionId` is `apikey:<id>`). */
  apiKeyId?: number;
}

/** Sessions that ended: these ids, or every session of a user but one (a password change). */
export type EndedSessions = { sessionIds: string[] } | { userId: number; except?: string };

export interface CachedSession {
  userId: number;
  userName: string;
  lastAccess: number;
  persistedAccess: number;
}

export interface AuthOptions {
  policy?: LoginPolicy;
  /** The password check (tests wrap it to see that every login runs it). */
  verify?: (plain: string, stored: string) => Promise<boolean>;
  /** The in-memory session cache (tests pass their own to look inside). */
  cache?: Map<string, CachedSession>;
  /** Where directory logins say why one was refused (default: console.warn, the server log). */
  log?: (line: string) => void;
}

const authFailed = () => unauthenticated('Authentication failed: incorrect user name or password.', 'auth.failed');
const tooMany = (what: string, seconds: number) =>
  rateLimited(`Too many failed logins ${what}. Try again in ${seconds} s.`, seconds, 'auth.locked');

const inWindow = (f: LoginFailure | undefined, now: number, windowMs: number): f is LoginFailure =>
  f !== undefined && now - f.windowStart <= windowMs;
const lockedFor = (f: LoginFailure | undefined, now: number): number =>
  f?.lockedUntil && f.lockedUntil > now ? Math.ceil((f.lockedUntil - now) / 1000) : 0;
const idle = (lastAccess: number, now: number) => now - lastAccess > SESSION_IDLE_MS;

export function authService(ctx: Pick<ServiceContext, 'store' | 'clock'> & Partial<Pick<ServiceContext, 'secrets'>>, options: AuthOptions = {}) {
  const { store, clock } = ctx;
  const policy = options.policy ?? DEFAULT_LOGIN_POLICY;
  const verify = options.verify ?? verifyPassword;
  /** Logins with a directory password (needs the secret box, which opens the directories' bind passwords). */
  const directories = ctx.secrets ? directoryLogin({ store, clock, secrets: ctx.secrets }, options.log) : undefined;
  const cache = options.cache ?? new Map<string, CachedSession>();
  const endedListeners = new Set<(ended: EndedSessions) => void>();
  let lastSweep = clock.now();
  /** Each user's Access, where sessions are cached too; cleared by forgetAccess. */
  const accessCache = new Map<number, Access>();
  const apiKeys = apiKeyCheck(ctx);
  /** The store's auth generation the caches hold reads of (see authGeneration). */
  let seenGeneration = store.cacheGeneration('auth');

  /**
   * The generation to cache reads under, undefined when nothing may be cached now. When it moved
   * (on PostgreSQL: another process ended a session or changed a user or access, or the change
   * feed stopped hearing), everything cached is forgotten first. A read is kept only if the
   * generation is the same after it as before: a change committed meanwhile is never hidden.
   */
  function authGeneration(): number | undefined {
    const gen = store.cacheGeneration('auth');
    if (gen !== seenGeneration) {
      cache.clear();
      accessCache.clear();
      seenGeneration = gen;
    }
    return gen;
  }

  /**
   * authenticate's answer when this process holds all of it: the session cached and not idle,
   * with no touch due, and the user's access known. Undefined otherwise (an API key, a session
   * not cached, a touch to write): only authenticate can tell then. Synchronous, so that the
   * fast lane (src/api/fast-lane.ts) can answer a repeated GET without a turn of the event loop.
   */
  function cachedPrincipal(sessionId: string): Principal | undefined {
    if (isApiKey(sessionId)) return undefined;
    const now = clock.now();
    const s = sessionCache(now)?.get(sessionId);
    if (!s || idle(s.lastAccess, now) || now - s.persistedAccess >= TOUCH_EVERY_MS) return undefined;
    const access = accessCache.get(s.userId);
    if (!access) return undefined;
    s.lastAccess = now;
    return { userId: s.userId, name: s.userName, sessionId, access };
  }

  /** What a user may do, from their permission sets and the roles and groups they name. */
  async function accessOf(userId: number): Promise<Access> {
    const gen = authGeneration();
    const cached = gen === undefined ? undefined : accessCache.get(userId);
    if (cached) return cached;
    const access = await accessFromSets(store, await store.permissionSets.of(userId));
    if (gen !== undefined && authGeneration() === gen) accessCache.set(userId, access);
    return access;
  }
  /**
   * What an unknown user's password is checked against, so that a login costs one scrypt
   * whether or not the name exists (otherwise the time of the 401 tells which names do). Made
   * by hashPassword itself, so it always has the parameters real hashes get.
   */
  const dummyHash: Promise<string> = hashPassword(randomBytes(16).toString('hex'));

  /**
   * The session cache, or undefined where another process may change the sessions. A session
   * that went idle and is never asked about again would stay in it forever, so each use sweeps
   * the idle ones out, at most once a minute. Only memory: the maintenance job deletes the
   * store's idle rows, and a later check finds the session expired there too (its stored last
   * access is never newer than the cached one).
   */
  function sessionCache(now: number): Map<string, CachedSession> | undefined {
    if (authGeneration() === undefined) return undefined;
    if (now - lastSweep >= SWEEP_EVERY_MS) {
      lastSweep = now;
      for (const [id, s] of cache) if (idle(s.lastAccess, now)) cache.delete(id);
    }
    return cache;
  }

  async function recordFailure(kind: LoginFailureKind, subject: string, prior: LoginFailure | undefined, max: number, now: number) {
    const fresh = !inWindow(prior, now, policy.windowMs);
    const failures = fresh ? 1 : prior.failures + 1;
    await store.loginFailures.put({
      kind,
      subject,
      failures,
      windowStart: fresh ? now : prior.windowStart,
      lockedUntil: failures >= max ? now + policy.lockMs : null,
    });
  }

  function tell(ended: EndedSessions): void {
    for (const listener of endedListeners) {
      try {
        listener(ended);
      } catch {
        // A listener's failure must not fail the logout that already happened.
      }
    }
  }

  async function logout(sessionId: string | undefined): Promise<void> {
    // A request made with an API key has no session to end: the key stays until revoked.
    if (!sessionId || isApiKey(sessionId)) return;
    cache.delete(sessionId);
    await store.loginSessions.delete(sessionId);
    tell({ sessionIds: [sessionId] });
  }

  return {
    /**
     * Checks a user name and password (undefined: the caller sent none) and opens a login
     * session. A locked address is refused before the credentials are even looked at.
     */
    async login(credentials: Credentials | undefined, address: string): Promise<{ sessionid: string; user: User }> {
      const now = clock.now();
      const { windowMs } = policy;
      const byAddress = await store.loginFailures.get('address', address);
      const addressLock = lockedFor(byAddress, now);
      if (addressLock) throw tooMany(`from ${address}`, addressLock);
      if (!credentials) throw unauthenticated('Log in with HTTP Basic authentication (user name and password).', 'auth.no-credentials');
      const nameKey = sha256Hex(credentials.user);
      const byName = await store.loginFailures.get('name', nameKey);
      const nameLock = lockedFor(byName, now);
      if (nameLock && inWindow(byAddress, now, windowMs)) throw tooMany(`for this user name from ${address}`, nameLock);

      const found = await store.users.byName(credentials.user);
      const native = found?.type === 'LDAP_USER' ? undefined : found;
      // One scrypt whoever the name is (native, a directory's, nobody's), so the time tells nothing.
      const nativeOk = await verify(credentials.password, native?.passwordHash ?? (await dummyHash));
      // A name that is no native user's may be a directory's (services/directory-login.ts).
      const viaDirectory = native ? undefined : await directories?.login(credentials, found);
      if (viaDirectory?.user) accessCache.delete(viaDirectory.user.id); // its permission sets were just replaced
      const user = viaDirectory ? viaDirectory.user : native;
      const ok = viaDirectory ? viaDirectory.ok : nativeOk;
      // Said only to whoever knows the password: a guesser learns nothing about the account.
      if (user && ok && user.disabled) throw unauthenticated(`The account "${user.name}" is disabled.`, 'auth.disabled');
      if (!user || !ok) {
        if (user) await store.users.recordLogin(user.id, false, now);
        await recordFailure('address', address, byAddress, policy.maxFailures, now);
        await recordFailure('name', nameKey, byName, policy.maxNameFailures ?? 2 * policy.maxFailures, now);
        await store.loginFailures.deleteStale(now - windowMs, now);
        throw authFailed();
      }
      // Success clears the address's count, not the name's: the owner logging in must not give the
      // addresses guessing that name a fresh start.
      if (byAddress) await store.loginFailures.clear('address', address);
      await store.users.recordLogin(user.id, true, now);
      const sessionid = newLoginSessionId();
      const gen = authGeneration();
      await store.loginSessions.create({ id: sessionid, userId: user.id, createdAt: now, lastAccess: now });
      if (gen !== undefined && authGeneration() === gen) {
        sessionCache(now)?.set(sessionid, { userId: user.id, userName: user.name, lastAccess: now, persistedAccess: now });
      }
      return { sessionid, user: (await store.users.byId(user.id))! };
    },

    /**
     * The principal of a session id or an API key (undefined: the caller sent none); using a
     * session keeps it alive. A key acts with its owner's access as it is now (only the `*.view`
     * part for a read-only key); `address` is what a key's allowed addresses are checked against.
     */
    async authenticate(sessionId: string | undefined, address = ''): Promise<Principal> {
      if (!sessionId) {
        throw unauthenticated('This request needs a session: log in with POST /api/endeavour/session and send X-Endeavour-Sessionid.', 'auth.no-session');
      }
      if (isApiKey(sessionId)) {
        const k = await apiKeys.authenticate(sessionId, address);
        const access = await accessOf(k.userId);
        return { userId: k.userId, name: k.userName, sessionId: `apikey:${k.id}`, apiKeyId: k.id, access: k.readOnly ? access.viewOnly() : access };
      }
      const hit = cachedPrincipal(sessionId);
      if (hit) return hit;
      const now = clock.now();
      const sessions = sessionCache(now);
      const gen = seenGeneration;
      let s = sessions?.get(sessionId);
      // Idle here may still be alive in the store: another process may have served it since.
      if (s && idle(s.lastAccess, now)) {
        sessions!.delete(sessionId);
        s = undefined;
      }
      if (!s) {
        const stored = await store.loginSessions.get(sessionId);
        if (stored) s = { userId: stored.userId, userName: stored.userName, lastAccess: stored.lastAccess, persistedAccess: stored.lastAccess };
        if (s && sessions && authGeneration() === gen) sessions.set(sessionId, s);
      }
      if (!s || idle(s.lastAccess, now)) {
        if (s) await logout(sessionId);
        throw unauthenticated('The session does not exist or has expired. Log in again.', 'auth.expired');
      }
      s.lastAccess = now;
      if (now - s.persistedAccess >= TOUCH_EVERY_MS) {
        s.persistedAccess = now;
        await store.loginSessions.touch(sessionId, now);
      }
      return { userId: s.userId, name: s.userName, sessionId, access: await accessOf(s.userId) };
    },

    accessOf,
    cachedPrincipal,

    /**
     * Ends every login session of a user (disabled, deleted, or their password reset by
     * someone else), in this process's cache too.
     */
    async endSessionsOf(userId: number): Promise<void> {
      await store.loginSessions.deleteOfUser(userId);
      for (const [id, s] of cache) if (s.userId === userId) cache.delete(id);
      tell({ userId });
    },

    /** Roles, groups or a user's permission sets changed: work access out again on next use. */
    forgetAccess(): void {
      accessCache.clear();
    },

    /**
     * Whether a session is still open (exists and not idle too long), without counting this as a
     * use: an open event stream alone does not keep its session alive.
     */
    async isActive(sessionId: string): Promise<boolean> {
      const key = /^apikey:(\d+)$/.exec(sessionId);
      if (key) return apiKeys.isUsable(Number(key[1]));
      const now = clock.now();
      const sessions = sessionCache(now);
      let cached = sessions?.get(sessionId);
      // As in authenticate: idle here may still be alive in the store (another process).
      if (cached && idle(cached.lastAccess, now)) {
        sessions!.delete(sessionId);
        cached = undefined;
      }
      const lastAccess = cached ? cached.lastAccess : (await store.loginSessions.get(sessionId))?.lastAccess;
      return lastAccess !== undefined && !idle(lastAccess, clock.now());
    },

    logout,

    /** An API key was revoked: whoever holds something open with it (an event stream) lets go now. */
    keyRevoked(id: number): void {
      tell({ sessionIds: [`apikey:${id}`] });
    },

    /**
     * Sets the caller's password and ends every other login session of that user, in one
     * transaction: whoever learnt the old password loses the sessions it opened. The caller's own
     * session (for the login-with-change flow, the one that login just opened) stays.
     */
    async changePassword(caller: Pick<Principal, 'userId' | 'sessionId'>, newPassword: string): Promise<void> {
      const { userId, sessionId: keep } = caller;
      const owner = await store.users.byId(userId);
      // Its directory checks a directory user's password: a password of Census's own would be a second way in.
      if (owner?.type === 'LDAP_USER') throw notAllowed(`${owner.name} logs in with a directory password; change it in the directory.`, 'user.directory');
      const hash = await hashPassword(newPassword);
      await store.transaction(async (r) => {
        await r.users.setPassword(userId, hash, clock.now());
        await r.loginSessions.deleteOfUser(userId, keep);
      });
      for (const [id, s] of cache) if (s.userId === userId && id !== keep) cache.delete(id);
      tell({ userId, except: keep });
    },

    /** Calls `listener` when sessions end in this process (logout, expiry, password change); returns the unsubscribe. */
    onSessionsEnded(listener: (ended: EndedSessions) => void): () => void {
      endedListeners.add(listener);
      return () => endedListeners.delete(listener);
    },
  };
}

export type AuthService = ReturnType<typeof authService>;
