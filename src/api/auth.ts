/**
 * Login sessions (spec §2): Basic-auth login, the X-Endeavour-Sessionid header on every other
 * call, a sliding 45-minute idle timeout, logout, and a brake on repeated failed logins (per
 * address and per user name; see LoginPolicy). Sessions live in the store, under the hash of
 * their id (store/users.ts); on the embedded default (one process owns the database) a small
 * in-memory map, keyed by the clear id, spares the store a read and a write on every request.
 * Whoever holds a session open (the event streams) hears here when it ends: onSessionsEnded.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.ts';
import { SppError } from '../core/errors.ts';
import { newLoginSessionId } from '../core/ids.ts';
import { hashPassword, verifyPassword } from '../core/password.ts';
import type { User } from '../core/types.ts';
import type { Store } from '../store/index.ts';
import { sha256Hex, type LoginFailure, type LoginFailureKind } from '../store/users.ts';
export const SESSION_IDLE_MS = 45 * 60_000;
/** How often a busy session's last-access time is written through to the store. */
const TOUCH_EVERY_MS = 60_000;

/**
 * The brake on guessing passwords. Failed logins are counted twice, per source address and per
 * user name (whether or not the user exists, so the brake tells nothing about which names do):
 * - an address with `maxFailures` failures within `windowMs` is locked out for `lockMs`, whatever
 *   name it tries;
 * - a user name with `maxNameFailures` failures within `windowMs`, from any addresses, is locked
 *   for `lockMs`, but only for addresses that have failed themselves within their own window.
 *   Ten addresses guessing one name are all stopped, while the name's owner, logging in from an
 *   address that has not failed, still gets in.
 * Both answer SPP's 429 (XSBTooManyLoginAttemptsException) with Retry-After.
 */
export interface LoginPolicy {
  maxFailures: number;
  /** Default: twice maxFailures. */
  maxNameFailures?: number;
  windowMs: number;
  lockMs: number;
}
export const DEFAULT_LOGIN_POLICY: LoginPolicy = { maxFailures: 5, maxNameFailures: 10, windowMs: 15 * 60_000, lockMs: 60_000 };

interface CachedSession {
  userId: number;
  lastAccess: number;
  persistedAccess: number;
}

export interface Principal {
  userId: number;
  sessionId: string;
}

/** Sessions that ended: these ids, or every session of a user but one (a password change). */
export type EndedSessions = { sessionIds: string[] } | { userId: number; except?: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const authError = () => new SppError(401, 'XSBAuthenticationException', 'Authentication failed: incorrect user name or password.');
const tooMany = (what: string, seconds: number) =>
  new SppError(429, 'XSBTooManyLoginAttemptsException', `Too many failed logins ${what}. Try again in ${seconds} s.`);

const inWindow = (f: LoginFailure | undefined, now: number, windowMs: number): f is LoginFailure =>
  f !== undefined && now - f.windowStart <= windowMs;
const lockedFor = (f: LoginFailure | undefined, now: number): number =>
  f?.lockedUntil && f.lockedUntil > now ? Math.ceil((f.lockedUntil - now) / 1000) : 0;

export class Auth {
  private cache = new Map<string, CachedSession>();
  private endedListeners = new Set<(ended: EndedSessions) => void>();
  /**
   * What an unknown user's password is checked against, so that a login costs one scrypt
   * whether or not the name exists (otherwise the time of the 401 tells which names do). Made
   * by hashPassword itself, so it always has the parameters real hashes get.
   */
  private dummyHash: Promise<string> = hashPassword(randomBytes(16).toString('hex'));

  constructor(
    private store: Store,
    private clock: Clock,
    private policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    /** The password check (tests wrap it to see that every login runs it). */
    private verify: (plain: string, stored: string) => Promise<boolean> = verifyPassword,
  ) {}

  private get caching(): boolean {
    return this.store.writeGeneration() !== undefined;
  }

  /** Checks Basic credentials and opens a login session. */
  async login(authorization: string | undefined, address: string): Promise<{ sessionid: string; user: User }> {
    const now = this.clock.now();
    const { windowMs } = this.policy;
    const byAddress = await this.store.loginFailures.get('address', address);
    const addressLock = lockedFor(byAddress, now);
    if (addressLock) throw tooMany(`from ${address}`, addressLock);
    const creds = parseBasic(authorization);
    if (!creds) throw new SppError(401, 'XSBAuthenticationException', 'Log in with HTTP Basic authentication (user name and password).');
    const nameKey = sha256Hex(creds.user);
    const byName = await this.store.loginFailures.get('name', nameKey);
    const nameLock = lockedFor(byName, now);
    if (nameLock && inWindow(byAddress, now, windowMs)) throw tooMany(`for this user name from ${address}`, nameLock);

    const user = await this.store.users.byName(creds.user);
    const ok = await this.verify(creds.password, user?.passwordHash ?? (await this.dummyHash));
    if (!user || !ok) {
      if (user) await this.store.users.recordLogin(user.id, false, now);
      await this.recordFailure('address', address, byAddress, this.policy.maxFailures, now);
      await this.recordFailure('name', nameKey, byName, this.policy.maxNameFailures ?? 2 * this.policy.maxFailures, now);
      await this.store.loginFailures.deleteStale(now - windowMs, now);
      throw authError();
    }
    // Success clears the address's count, not the name's: the owner logging in must not give the
    // addresses guessing that name a fresh start.
    if (byAddress) await this.store.loginFailures.clear('address', address);
    await this.store.users.recordLogin(user.id, true, now);
    const sessionid = newLoginSessionId();
    await this.store.loginSessions.create({ id: sessionid, userId: user.id, createdAt: now, lastAccess: now });
    if (this.caching) this.cache.set(sessionid, { userId: user.id, lastAccess: now, persistedAccess: now });
    return { sessionid, user: (await this.store.users.byId(user.id))! };
  }

  private async recordFailure(kind: LoginFailureKind, subject: string, prior: LoginFailure | undefined, max: number, now: number) {
    const fresh = !inWindow(prior, now, this.policy.windowMs);
    const failures = fresh ? 1 : prior.failures + 1;
    await this.store.loginFailures.put({
      kind,
      subject,
      failures,
      windowStart: fresh ? now : prior.windowStart,
      lockedUntil: failures >= max ? now + this.policy.lockMs : null,
    });
  }

  /** Resolves the session header to a principal, or throws SPP's 401. */
  async authenticate(sessionId: string | undefined): Promise<Principal> {
    if (!sessionId) {
      throw new SppError(401, 'XSBMissingSessionidException', 'This request needs a session: log in with POST /api/endeavour/session and send X-Endeavour-Sessionid.');
    }
    const now = this.clock.now();
    let s = this.caching ? this.cache.get(sessionId) : undefined;
    if (!s) {
      const stored = await this.store.loginSessions.get(sessionId);
      if (stored) s = { userId: stored.userId, lastAccess: stored.lastAccess, persistedAccess: stored.lastAccess };
      if (s && this.caching) this.cache.set(sessionId, s);
    }
    if (!s || now - s.lastAccess > SESSION_IDLE_MS) {
      if (s) await this.logout(sessionId);
      throw new SppError(401, 'XSBSessionDoesNotExistException', 'The session does not exist or has expired. Log in again.');
    }
    s.lastAccess = now;
    if (now - s.persistedAccess >= TOUCH_EVERY_MS) {
      s.persistedAccess = now;
      await this.store.loginSessions.touch(sessionId, now);
    }
    return { userId: s.userId, sessionId };
  }

  /**
   * Whether a session is still open (exists and not idle too long), without counting this as a
   * use: an open event stream alone does not keep its session alive.
   */
  async isActive(sessionId: string): Promise<boolean> {
    const cached = this.caching ? this.cache.get(sessionId) : undefined;
    const lastAccess = cached ? cached.lastAccess : (await this.store.loginSessions.get(sessionId))?.lastAccess;
    return lastAccess !== undefined && this.clock.now() - lastAccess <= SESSION_IDLE_MS;
  }

  async logout(sessionId: string): Promise<void> {
    this.cache.delete(sessionId);
    await this.store.loginSessions.delete(sessionId);
    this.tell({ sessionIds: [sessionId] });
  }

  /**
   * Sets a user's password and ends every other login session of that user, in one transaction:
   * whoever learnt the old password loses the sessions it opened. `keepSessionId` is the session
   * that made the change (for the login-with-change flow, the one that login just opened).
   */
  async changePassword(userId: number, newPassword: string, keepSessionId: string): Promise<void> {
    const hash = await hashPassword(newPassword);
    await this.store.transaction(async (r) => {
      await r.users.setPassword(userId, hash, this.clock.now());
      await r.loginSessions.deleteOfUser(userId, keepSessionId);
    });
    for (const [id, s] of this.cache) if (s.userId === userId && id !== keepSessionId) this.cache.delete(id);
    this.tell({ userId, except: keepSessionId });
  }

  /** Calls `listener` when sessions end in this process (logout, expiry, password change); returns the unsubscribe. */
  onSessionsEnded(listener: (ended: EndedSessions) => void): () => void {
    this.endedListeners.add(listener);
    return () => this.endedListeners.delete(listener);
  }

  private tell(ended: EndedSessions): void {
    for (const listener of this.endedListeners) {
      try {
        listener(ended);
      } catch {
        // A listener's failure must not fail the logout that already happened.
      }
    }
  }
}

function parseBasic(header: string | undefined): { user: string; password: string } | null {
  const m = /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return null;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** The session header, whatever case the client wrote it in (Node lower-cases header names). */
export const sessionHeader = (req: FastifyRequest): string | undefined => {
  const v = req.headers['x-endeavour-sessionid'];
  return (Array.isArray(v) ? v[0] : v)?.trim() || undefined;
};

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
