/**
 * Login sessions (spec §2): Basic-auth login, the X-Endeavour-Sessionid header on every other
 * call, a sliding 45-minute idle timeout, logout, and a brake on repeated failed logins from one
 * address. Sessions live in the store; on the embedded default (one process owns the database)
 * a small in-memory map spares the store a read and a write on every request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.ts';
import { SppError } from '../core/errors.ts';
import { newLoginSessionId } from '../core/ids.ts';
import { verifyPassword } from '../core/password.ts';
import type { User } from '../core/types.ts';
import type { Store } from '../store/index.ts';

export const SESSION_IDLE_MS = 45 * 60_000;
/** How often a busy session's last-access time is written through to the store. */
const TOUCH_EVERY_MS = 60_000;

export interface LoginPolicy {
  /** Failed logins from one address within the window before it is locked out. */
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}
export const DEFAULT_LOGIN_POLICY: LoginPolicy = { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 60_000 };

interface CachedSession {
  userId: number;
  lastAccess: number;
  persistedAccess: number;
}

export interface Principal {
  userId: number;
  sessionId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const authError = () => new SppError(401, 'XSBAuthenticationException', 'Authentication failed: incorrect user name or password.');

export class Auth {
  private cache = new Map<string, CachedSession>();

  constructor(
    private store: Store,
    private clock: Clock,
    private policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
  ) {}

  private get caching(): boolean {
    return this.store.writeGeneration() !== undefined;
  }

  /** Checks Basic credentials and opens a login session. */
  async login(authorization: string | undefined, address: string): Promise<{ sessionid: string; user: User }> {
    const now = this.clock.now();
    const failure = await this.store.loginFailures.get(address);
    if (failure?.lockedUntil && failure.lockedUntil > now) {
      const seconds = Math.ceil((failure.lockedUntil - now) / 1000);
      throw new SppError(429, 'XSBTooManyLoginAttemptsException',
        `Too many failed logins from ${address}. Try again in ${seconds} s.`);
    }
    const creds = parseBasic(authorization);
    if (!creds) throw new SppError(401, 'XSBAuthenticationException', 'Log in with HTTP Basic authentication (user name and password).');
    const user = await this.store.users.byName(creds.user);
    const ok = user ? await verifyPassword(creds.password, user.passwordHash) : false;
    if (!user || !ok) {
      if (user) await this.store.users.recordLogin(user.id, false, now);
      await this.recordFailure(address, failure, now);
      throw authError();
    }
    if (failure) await this.store.loginFailures.clear(address);
    await this.store.users.recordLogin(user.id, true, now);
    const sessionid = newLoginSessionId();
    await this.store.loginSessions.create({ id: sessionid, userId: user.id, createdAt: now, lastAccess: now });
    if (this.caching) this.cache.set(sessionid, { userId: user.id, lastAccess: now, persistedAccess: now });
    return { sessionid, user: (await this.store.users.byId(user.id))! };
  }

  private async recordFailure(address: string, prior: { failures: number; windowStart: number } | undefined, now: number) {
    const fresh = !prior || now - prior.windowStart > this.policy.windowMs;
    const failures = fresh ? 1 : prior.failures + 1;
    await this.store.loginFailures.put({
      address,
      failures,
      windowStart: fresh ? now : prior.windowStart,
      lockedUntil: failures >= this.policy.maxFailures ? now + this.policy.lockMs : null,
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

  async logout(sessionId: string): Promise<void> {
    this.cache.delete(sessionId);
    await this.store.loginSessions.delete(sessionId);
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
