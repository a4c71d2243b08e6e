/**
 * Issue 9, data at rest and login: session ids kept only as their hash (and the migration that
 * drops clear ones), the login brake per address and per user name, an unknown user's login
 * costing one password check like a known one's, a password change ending the user's other
 * sessions, event streams closing when their session ends (here, elsewhere, or by going idle),
 * and links that a forwarded or missing Host header cannot point elsewhere.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import tls from 'node:tls';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_CHECK_MS } from '../../src/api/events.ts';
import { normalizePublicUrl } from '../../src/api/links.ts';
import { FakeClock } from '../../src/core/clock.ts';
import { wireError } from '../../src/api/errors.ts';
import { DomainError, RateLimitedError } from '../../src/core/errors.ts';
import { hashPassword, verifyPassword } from '../../src/core/password.ts';
import { authService, DEFAULT_LOGIN_POLICY, type AuthService, type CachedSession } from '../../src/services/auth.ts';
import { Store } from '../../src/store/index.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from '../support/server.ts';
import { createPgSchema, DIALECTS, PG_URL, sqliteStore, type TestStore } from '../support/stores.ts';

const MIN = 60_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The domain error a promise rejects with, as the API answers it (or a failure if it does not reject). */
async function rejection(p: Promise<unknown>): Promise<{ status: number; id: string; description: string; code: string; retryAfterSeconds?: number }> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const { status, body } = wireError(err)!;
    return { status, ...body, code: err.code, ...(err instanceof RateLimitedError ? { retryAfterSeconds: err.retryAfterSeconds } : {}) };
  }
  throw new Error('expected a rejection');
}

describe.each(DIALECTS)('login sessions in the store (%s)', (_name, open) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await open();
  });
  afterAll(async () => t?.cleanup());

  it('keeps only the SHA-256 of a session id: a copy of the table hands out no session', async () => {
    const user = (await t.store.users.byName('probe')) ?? (await t.store.users.create('probe', 'x', 1));
    const id = 'c0ffee'.padEnd(32, '1');
    await t.store.loginSessions.create({ id, userId: user.id, createdAt: 1, lastAccess: 2 });
    const rows = (await sql<Record<string, unknown>>`SELECT * FROM login_sessions`.execute(t.store.db)).rows;
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(id);
    expect(rows[0]!.idHash).toBe(sha256(id));
    expect(await t.store.loginSessions.get(id)).toEqual({ id, userId: user.id, userName: 'probe', createdAt: 1, lastAccess: 2 });
    // The stored value is no id: sending it finds nothing.
    expect(await t.store.loginSessions.get(sha256(id))).toBeUndefined();
    await t.store.loginSessions.delete(id);
    expect(await t.store.loginSessions.get(id)).toBeUndefined();
  });

  it('ends every session of a user but the one kept', async () => {
    const a = (await t.store.users.byName('a')) ?? (await t.store.users.create('a', 'x', 1));
    const b = (await t.store.users.byName('b')) ?? (await t.store.users.create('b', 'x', 1));
    const ids = ['1', '2', '3'].map((d) => d.repeat(32));
    for (const id of ids) await t.store.loginSessions.create({ id, userId: a.id, createdAt: 1, lastAccess: 1 });
    await t.store.loginSessions.create({ id: '4'.repeat(32), userId: b.id, createdAt: 1, lastAccess: 1 });
    expect(await t.store.loginSessions.deleteOfUser(a.id, ids[1])).toBe(2);
    expect(await t.store.loginSessions.get(ids[0]!)).toBeUndefined();
    expect(await t.store.loginSessions.get(ids[1]!)).toBeDefined();
    expect(await t.store.loginSessions.get('4'.repeat(32))).toBeDefined();
  });

  it('upgrading drops sessions stored in clear and the old per-address counters', async () => {
    // Put the tables back the way schema version 5 had them, with a clear session id in them.
    const db = t.store.db;
    await sql`DELETE FROM census_migrations WHERE version = 6`.execute(db);
    await sql`DROP INDEX login_sessions_user`.execute(db);
    await sql`ALTER TABLE login_sessions RENAME COLUMN id_hash TO id`.execute(db);
    await sql`DROP TABLE login_failures`.execute(db);
    await sql`CREATE TABLE login_failures (address TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_start BIGINT NOT NULL, locked_until BIGINT)`.execute(db);
    const user = (await t.store.users.byName('probe'))!;
    await sql`INSERT INTO login_sessions (id, user_id, created_at, last_access) VALUES (${'d'.repeat(32)}, ${user.id}, 1, 1)`.execute(db);
    await sql`INSERT INTO login_failures (address, failures, window_start, locked_until) VALUES ('10.0.0.9', 5, 1, 99)`.execute(db);

    const again = await Store.open({ url: t.url, ...(t.schema ? { schema: t.schema } : {}) });
    try {
      const sessions = (await sql<Record<string, unknown>>`SELECT * FROM login_sessions`.execute(again.db)).rows;
      expect(sessions).toEqual([]);
      expect(await again.loginFailures.get('address', '10.0.0.9')).toBeUndefined();
      await again.loginFailures.put({ kind: 'name', subject: sha256('x'), failures: 1, windowStart: 1, lockedUntil: null });
      expect(await again.loginFailures.get('name', sha256('x'))).toMatchObject({ failures: 1 });
    } finally {
      await again.close();
    }
  });
});

describe('the login brake and the cost of a login', () => {
  let t: TestStore;
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0));
  const checked: string[] = [];
  let auth: AuthService;
  const PASSWORD = 'Right-Password-1';

  beforeAll(async () => {
    t = await sqliteStore();
    await t.store.users.create('admin', await hashPassword(PASSWORD), clock.now());
    // The real check, watched: which stored hashes logins compare against.
    auth = authService({ store: t.store, clock }, {
      policy: DEFAULT_LOGIN_POLICY,
      verify: async (plain, stored) => {
        checked.push(stored);
        return verifyPassword(plain, stored);
      },
    });
  });
  afterAll(async () => t?.cleanup());

  const login = (user: string, password: string, address: string) => auth.login({ user, password }, address);

  it('runs the password check for an unknown user too, against a hash of the same cost', async () => {
    const cost = (hash: string) => hash.split('$').slice(0, 4).join('$');
    const real = (await t.store.users.byName('admin'))!.passwordHash;
    checked.length = 0;
    expect((await rejection(login('admin', 'wrong', '10.1.0.1'))).status).toBe(401);
    expect((await rejection(login('nobody-by-this-name', 'wrong', '10.1.0.2'))).status).toBe(401);
    expect(checked).toHaveLength(2);
    expect(checked[0]).toBe(real);
    expect(checked[1]).not.toBe(real);
    expect(cost(checked[1]!)).toBe(cost(real));
    expect(cost(real)).toMatch(/^scrypt\$\d+\$\d+\$\d+$/);
    // Both answers are the same.
    const a = await rejection(login('admin', 'wrong', '10.1.0.3'));
    const b = await rejection(login('nobody-by-this-name', 'wrong', '10.1.0.4'));
    expect([a.id, a.description, a.code]).toEqual([b.id, b.description, 'auth.failed']);
    // No credentials at all: the same 401, under its own code.
    expect(await rejection(auth.login(undefined, '10.1.0.5'))).toEqual({
      status: 401, id: 'XSBAuthenticationException', description: 'Log in with HTTP Basic authentication (user name and password).', code: 'auth.no-credentials',
    });
  });

  it('locks an address after five failures, whatever name it tries next', async () => {
    for (let i = 0; i < 5; i++) expect((await rejection(login(`u${i}`, 'wrong', '10.2.0.1'))).status).toBe(401);
    const locked = await rejection(login('admin', PASSWORD, '10.2.0.1'));
    expect(locked.status).toBe(429);
    expect(locked.id).toBe('XSBTooManyLoginAttemptsException');
    expect([locked.code, locked.retryAfterSeconds]).toEqual(['auth.locked', 60]);
    expect(locked.description).toBe('Too many failed logins from 10.2.0.1. Try again in 60 s.');
    expect((await login('admin', PASSWORD, '10.2.0.2')).sessionid).toMatch(/^[0-9a-f]{32}$/);
    clock.advance(61_000);
    expect((await login('admin', PASSWORD, '10.2.0.1')).user.name).toBe('admin');
  });

  it('stops ten addresses guessing one name, while the owner logs in from an address that has not failed', async () => {
    clock.advance(16 * MIN); // a fresh window for every counter
    const guessers = Array.from({ length: 10 }, (_, i) => `10.3.0.${i + 1}`);
    // One guess each: no address reaches its own limit, but the name does (10).
    for (const a of guessers) expect((await rejection(login('admin', 'guess', a))).status).toBe(401);
    for (const a of guessers) {
      const r = await rejection(login('admin', PASSWORD, a)); // even the right password: these addresses guessed
      expect(r.status).toBe(429);
      expect(r.description).toContain('user name');
    }
    expect((await login('admin', PASSWORD, '10.3.1.1')).user.name).toBe('admin');
    // The owner's success does not lift the lock for the guessers.
    expect((await rejection(login('admin', PASSWORD, guessers[0]!))).status).toBe(429);
    // Another name from a guessing address is not held by this name's lock.
    await t.store.users.create('other', await hashPassword(PASSWORD), clock.now());
    expect((await login('other', PASSWORD, guessers[1]!)).user.name).toBe('other');
    clock.advance(61_000);
    expect((await login('admin', PASSWORD, guessers[2]!)).user.name).toBe('admin');
  });

  it('locks a name nobody has the same way, so the brake tells nothing about which names exist', async () => {
    clock.advance(16 * MIN);
    for (let i = 0; i < 10; i++) await rejection(login('ghost', 'guess', `10.4.0.${i + 1}`));
    expect((await rejection(login('ghost', 'guess', '10.4.0.1'))).status).toBe(429);
    const stored = (await sql<Record<string, unknown>>`SELECT subject FROM login_failures`.execute(t.store.db)).rows;
    expect(JSON.stringify(stored)).not.toContain('ghost'); // names are kept hashed
  });
});

describe('the in-memory session cache', () => {
  let t: TestStore;
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0));
  const cache = new Map<string, CachedSession>();
  let auth: AuthService;
  const PASSWORD = 'Right-Password-1';
  const SEC = 1000;

  beforeAll(async () => {
    t = await sqliteStore(); // the embedded default: the one case with a cache
    await t.store.users.create('admin', await hashPassword(PASSWORD), clock.now());
    auth = authService({ store: t.store, clock }, { cache });
  });
  afterAll(async () => t?.cleanup());

  const login = async () => (await auth.login({ user: 'admin', password: PASSWORD }, '10.5.0.1')).sessionid;

  it('drops a session found expired, and sweeps out idle ones nobody asks about, at most once a minute', async () => {
    const [a, b, c] = [await login(), await login(), await login()];
    expect([...cache.keys()]).toEqual([a, b, c]);
    clock.advance(44 * MIN + 30 * SEC);
    await auth.authenticate(b); // a use: b stays alive; the cache was swept now (nothing idle yet)
    clock.advance(31 * SEC); // a and c idle for 45 min 1 s; the next sweep is 29 s away

    // Found expired, even by a check that is not a use: dropped at once.
    expect(await auth.isActive(a)).toBe(false);
    expect([...cache.keys()]).toEqual([b, c]);
    // c is not asked about, and no sweep is due yet: it stays.
    await auth.authenticate(b);
    expect([...cache.keys()]).toEqual([b, c]);

    // A minute after the last sweep, the next use sweeps c out.
    clock.advance(29 * SEC);
    await auth.authenticate(b);
    expect([...cache.keys()]).toEqual([b]);
    // Gone from memory is not alive again: the store's row is just as old.
    expect(await auth.isActive(c)).toBe(false);
    const expired = await rejection(auth.authenticate(c));
    expect([expired.status, expired.id, expired.code]).toEqual([401, 'XSBSessionDoesNotExistException', 'auth.expired']);
    expect(await t.store.loginSessions.get(c)).toBeUndefined(); // found expired by a use: logged out
    expect((await auth.authenticate(b)).sessionId).toBe(b);
  });

  it('answers without the store only while nothing is left to check or write (the fast lane\'s check)', async () => {
    const sid = await login();
    const checked = await auth.authenticate(sid);
    const held = auth.cachedPrincipal(sid);
    expect([held?.sessionId, held?.name, held?.userId, held?.access]).toEqual([sid, 'admin', checked.userId, checked.access]);
    // A touch is due a minute after the last one written: only authenticate writes it.
    clock.advance(60 * SEC);
    expect(auth.cachedPrincipal(sid)).toBeUndefined();
    const touchedAt = clock.now();
    await auth.authenticate(sid);
    expect((await t.store.loginSessions.get(sid))?.lastAccess).toBe(touchedAt);
    expect(auth.cachedPrincipal(sid)?.sessionId).toBe(sid);
    // Idle, logged out, unknown, or an API key: never.
    clock.advance(46 * 60 * SEC);
    expect(auth.cachedPrincipal(sid)).toBeUndefined();
    const other = await login();
    await auth.authenticate(other);
    expect(auth.cachedPrincipal(other)?.sessionId).toBe(other);
    await auth.logout(other);
    expect(auth.cachedPrincipal(other)).toBeUndefined();
    expect(auth.cachedPrincipal('0123456789abcdef0123456789abcdef')).toBeUndefined();
    expect(auth.cachedPrincipal('cns_0123456789abcdef0123456789abcdef')).toBeUndefined();
  });

  it('asks for a session when none is given', async () => {
    const missing = await rejection(auth.authenticate(undefined));
    expect([missing.status, missing.id, missing.code]).toEqual([401, 'XSBMissingSessionidException', 'auth.no-session']);
  });
});

/** A raw SSE response, read until it ends. */
interface Stream {
  status: number;
  ended: boolean;
  destroy(): void;
}
function openStream(base: string, sid: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(`${base}/api/endeavour/events`), {
      headers: { Accept: 'text/event-stream', 'X-Endeavour-Sessionid': sid }, agent: false, rejectUnauthorized: false,
    });
    req.on('response', (res: IncomingMessage) => {
      const s: Stream = { status: res.statusCode ?? 0, ended: false, destroy: () => req.destroy() };
      res.on('data', () => {});
      for (const e of ['end', 'close', 'error']) res.on(e, () => (s.ended = true));
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}
const closedWithin = (s: Stream, ms: number, what: string) => waitFor(async () => (s.ended ? true : undefined), what, ms);

/** GET over TLS with exactly these header lines (none added), HTTP/1.0 or 1.1. */
function rawGet(base: string, path: string, lines: string[], version = '1.1'): Promise<{ status: number; json: any }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => {
      sock.write(`GET ${path} HTTP/${version}\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`);
    });
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (data += d));
    sock.on('error', reject);
    sock.on('end', () => {
      const split = data.indexOf('\r\n\r\n');
      const head = data.slice(0, split);
      let body = data.slice(split + 4);
      if (/transfer-encoding:\s*chunked/i.test(head)) {
        let out = '';
        for (let i = 0; ;) {
          const eol = body.indexOf('\r\n', i);
          const n = parseInt(body.slice(i, eol), 16);
          if (!n) break;
          out += body.slice(eol + 2, eol + 2 + n);
          i = eol + 2 + n + 2;
        }
        body = out;
      }
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0), json });
    });
  });
}

describe('a running server: sessions end everywhere they are used', () => {
  let s: TestServer;
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0));
  const streams: Stream[] = [];
  const stream = async (sid: string) => {
    const st = await openStream(s.url, sid);
    streams.push(st);
    expect(st.status).toBe(200);
    return st;
  };

  beforeAll(async () => {
    s = await startTestServer({ clock });
  });
  afterAll(async () => {
    for (const st of streams) st.destroy();
    await s?.stop();
  });

  it('keeps no clear session id in the database it serves from', async () => {
    const sid = await s.login();
    const rows = (await sql<{ idHash: string }>`SELECT id_hash FROM login_sessions`.execute(s.census.store.db)).rows;
    expect(rows.map((r) => r.idHash)).toContain(sha256(sid));
    expect(JSON.stringify(rows)).not.toContain(sid);
    expect((await s.req('GET', '/api/endeavour/job', { sid })).status).toBe(200);
  });

  it('closes a stream at once when its session logs out', async () => {
    const sid = await s.login();
    const other = await s.login();
    const mine = await stream(sid);
    const theirs = await stream(other);
    expect((await s.req('DELETE', '/api/endeavour/session', { sid })).status).toBe(204);
    await closedWithin(mine, 2_000, 'the logged-out stream to close');
    expect(theirs.ended).toBe(false);
    expect((await s.req('GET', '/api/endeavour/job', { sid: other })).status).toBe(200);
  });

  it('a password change ends the user\'s other sessions and their streams, and keeps the one that changed it', async () => {
    const first = await s.login();
    const second = await s.login();
    const watching = await stream(second);
    const next = 'Another-Password-2';
    const change = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'admin', password: ADMIN_PASSWORD }, body: { newPassword: next } });
    expect(change.status).toBe(200);
    const kept = change.json.sessionid as string;
    await closedWithin(watching, 2_000, 'the stream of an ended session to close');
    for (const sid of [first, second]) {
      const r = await s.req('GET', '/api/endeavour/job', { sid });
      expect(r.status).toBe(401);
      expect(r.json.id).toBe('XSBSessionDoesNotExistException');
    }
    expect((await s.req('GET', '/api/endeavour/job', { sid: kept })).status).toBe(200);
    const keptStream = await stream(kept);
    // Back to the password the other tests use: that change keeps only its own new session.
    const back = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'admin', password: next }, body: { newPassword: ADMIN_PASSWORD } });
    expect(back.status).toBe(200);
    await closedWithin(keptStream, 2_000, 'the earlier session\'s stream to close');
    expect((await s.req('GET', '/api/endeavour/job', { sid: back.json.sessionid })).status).toBe(200);
  });

  it('answers a locked address with SPP\'s 429 and Retry-After, and a clean address still logs in', async () => {
    // Each "address" is a loopback source address of its own (127.0.0.0/8 is all local).
    const from = (localAddress: string, password: string) => new Promise<{ status: number; retryAfter: unknown; json: any }>((resolve, reject) => {
      const req = https.request(new URL(`${s.url}/api/endeavour/session`), {
        method: 'POST', localAddress, agent: false, rejectUnauthorized: false, headers: { Authorization: basic('admin', password) },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], json: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end();
    });
    for (let i = 0; i < 5; i++) expect((await from('127.0.0.2', 'wrong')).status).toBe(401);
    const locked = await from('127.0.0.2', ADMIN_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.json).toEqual({ id: 'XSBTooManyLoginAttemptsException', description: expect.stringContaining('127.0.0.2') });
    expect(Number(locked.retryAfter)).toBeGreaterThan(0);
    expect((await from('127.0.0.3', ADMIN_PASSWORD)).status).toBe(200);
  });

  it('a stream does not outlive its session going idle (found by the periodic re-check)', async () => {
    const sid = await s.login();
    const st = await stream(sid);
    clock.advance(45 * MIN + 1);
    await closedWithin(st, SESSION_CHECK_MS + 5_000, 'the stream of an expired session to close');
    expect((await s.req('GET', '/api/endeavour/job', { sid })).status).toBe(401);
  });
});

describe('a stream on PostgreSQL closes when another process ends its session', () => {
  let s: TestServer;
  let other: Store;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const schema = await createPgSchema();
    drop = schema.drop;
    s = await startTestServer({ database: PG_URL, schema: schema.schema });
    other = await Store.open({ url: PG_URL, schema: schema.schema });
  });
  afterAll(async () => {
    await other?.close();
    await s?.stop();
    await drop?.();
  });

  it('sees the session gone within the re-check interval', async () => {
    const sid = await s.login();
    const st = await openStream(s.url, sid);
    try {
      expect(st.status).toBe(200);
      await other.loginSessions.delete(sid); // as another server's logout would
      const t0 = Date.now();
      await closedWithin(st, SESSION_CHECK_MS + 5_000, 'the stream to close');
      expect(Date.now() - t0).toBeLessThanOrEqual(SESSION_CHECK_MS + 5_000);
    } finally {
      st.destroy();
    }
  });
});

describe('links', () => {
  let s: TestServer;
  let behindProxy: TestServer;
  let sid = '';
  let proxiedSid = '';

  beforeAll(async () => {
    s = await startTestServer();
    behindProxy = await startTestServer({ publicUrl: 'https://census.example.com/' });
    sid = await s.login();
    proxiedSid = await behindProxy.login();
  });
  afterAll(async () => {
    await s?.stop();
    await behindProxy?.stop();
  });

  const port = (t: TestServer) => new URL(t.url).port;
  const selfOf = (r: { json: any }) => r.json.links.self.href as string;

  it('start with the configured public URL, whatever Host the request names', async () => {
    const r = await rawGet(behindProxy.url, '/api/endeavour/job', [`Host: evil.example`, `X-Endeavour-Sessionid: ${proxiedSid}`]);
    expect(r.status).toBe(200);
    expect(selfOf(r)).toBe('https://census.example.com/api/endeavour/job');
  });

  it('follow the Host header only when it names the address the server listens on', async () => {
    const p = port(s);
    const ask = async (host: string) => selfOf(await rawGet(s.url, '/api/endeavour/job', [`Host: ${host}`, `X-Endeavour-Sessionid: ${sid}`]));
    expect(await ask(`127.0.0.1:${p}`)).toBe(`https://127.0.0.1:${p}/api/endeavour/job`);
    expect(await ask(`localhost:${p}`)).toBe(`https://localhost:${p}/api/endeavour/job`);
    expect(await ask(`[::1]:${p}`)).toBe(`https://[::1]:${p}/api/endeavour/job`);
    // Another name, another port, or junk: the address the server listens on.
    for (const host of [`evil.example:${p}`, 'evil.example', `127.0.0.1:${Number(p) + 1}`, '127.0.0.1', 'a b', `localhost:${p}@evil.example`]) {
      expect(await ask(host), host).toBe(`https://127.0.0.1:${p}/api/endeavour/job`);
    }
  });

  it('never fail on an empty or missing Host header', async () => {
    const p = port(s);
    const empty = await rawGet(s.url, '/api/identity/key', ['Host:', `X-Endeavour-Sessionid: ${sid}`]);
    expect(empty.status).toBe(200);
    expect(selfOf(empty)).toBe(`https://127.0.0.1:${p}/api/identity/key`);
    const missing = await rawGet(s.url, '/api/identity/key', [`X-Endeavour-Sessionid: ${sid}`], '1.0');
    expect(missing.status).toBe(200);
    expect(selfOf(missing)).toBe(`https://127.0.0.1:${p}/api/identity/key`);
  });

  it('come from `census server --public-url`, which --help describes and which refuses a bad URL', async () => {
    const root = new URL('../..', import.meta.url).pathname;
    const census = (...args: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => resolve({ code, out }));
    });
    const help = await census('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--public-url URL/);
    const bad = await census('--public-url', 'ftp://census.example.com');
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('--public-url must be an http:// or https:// URL');
  });

  it('refuse a public URL that is not one', () => {
    expect(normalizePublicUrl('https://census.example.com:8443/spp/')).toBe('https://census.example.com:8443/spp');
    for (const bad of ['census.example.com', 'ftp://x', 'https://u:p@x', 'https://x/?a=1', 'https://x/#f', '']) {
      expect(() => normalizePublicUrl(bad), bad).toThrow(/--public-url/);
    }
  });
});
