/**
 * The attack suite: every operation the OpenAPI document lists that needs a login session is
 * called as an attacker would — with no session, a random one, one that was logged out — and
 * through every spelling of its path in the table below. None may answer 2xx. The operations come
 * from the served document, so a route added later is attacked without editing this file.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, type RawReply } from '../support/raw-request.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

interface Operation {
  method: string;
  path: string;
  security?: Record<string, unknown>[];
}

/** Percent-encodes every character of `s` (upper-case hex). */
const encodeAll = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
const firstSegment = (p: string) => p.split('/')[1]!;
const rest = (p: string) => p.slice(firstSegment(p).length + 1);
const withFirst = (p: string, f: (segment: string) => string) => `/${f(firstSegment(p))}${rest(p)}`;

/**
 * Spellings of a path. `same`: the one rule (src/api/paths.ts) makes it the very path, so it must
 * meet the same login check (401); the others name nothing, or are refused (400/404, or 401).
 */
const SPELLINGS: { name: string; same: boolean; spell: (p: string) => string }[] = [
  { name: 'as documented', same: true, spell: (p) => p },
  { name: 'first letter percent-encoded', same: true, spell: (p) => withFirst(p, (s) => encodeAll(s[0]!) + s.slice(1)) },
  { name: 'first letter encoded, lower-case hex', same: true, spell: (p) => withFirst(p, (s) => encodeAll(s[0]!).toLowerCase() + s.slice(1)) },
  { name: 'whole prefix encoded', same: true, spell: (p) => withFirst(p, encodeAll) },
  { name: 'every letter encoded', same: true, spell: (p) => p.split('/').map(encodeAll).join('/') },
  { name: 'doubled leading slash', same: true, spell: (p) => `/${p}` },
  { name: 'doubled inner slash', same: true, spell: (p) => p.replace(/\//g, '//') },
  { name: 'trailing slash', same: true, spell: (p) => `${p}/` },
  { name: 'double encoding', same: false, spell: (p) => withFirst(p, (s) => `%25${Buffer.from(s[0]!).toString('hex')}${s.slice(1)}`) },
  { name: 'upper case', same: false, spell: (p) => p.toUpperCase() },
  { name: 'capitalised prefix', same: false, spell: (p) => withFirst(p, (s) => s[0]!.toUpperCase() + s.slice(1)) },
  { name: 'dot segment', same: false, spell: (p) => `/.${p}` },
  { name: 'dot-dot segment', same: false, spell: (p) => `/x/..${p}` },
  { name: 'encoded dot-dot', same: false, spell: (p) => `/x/%2e%2E${p}` },
  { name: 'encoded slash', same: false, spell: (p) => withFirst(p, (s) => `${s}%2F`).replace('%2F/', '%2F') },
  { name: 'encoded backslash', same: false, spell: (p) => p.replace(/\//g, '%5C') },
  { name: 'backslashes', same: false, spell: (p) => p.replace(/\//g, '\\') },
  { name: ';params on the prefix', same: false, spell: (p) => withFirst(p, (s) => `${s};jsessionid=1`) },
  { name: ';params at the end', same: false, spell: (p) => `${p};x=1` },
  { name: 'overlong UTF-8 letter, encoded', same: false, spell: (p) => withFirst(p, (s) => `%C1%${(0x80 | (s.charCodeAt(0) & 0x3f)).toString(16).toUpperCase()}${s.slice(1)}`) },
  { name: 'overlong UTF-8 slash, encoded', same: false, spell: (p) => `/%C0%AF${p.slice(1)}` },
  { name: 'overlong UTF-8 letter, raw bytes', same: false, spell: (p) => withFirst(p, (s) => `\u00c1${String.fromCharCode(0x80 | (s.charCodeAt(0) & 0x3f))}${s.slice(1)}`) },
  { name: 'fullwidth letter', same: false, spell: (p) => withFirst(p, (s) => `%EF%BD%${(0x81 + s.charCodeAt(0) - 0x61).toString(16).toUpperCase()}${s.slice(1)}`) },
  { name: 'encoded NUL', same: false, spell: (p) => `${p}%00` },
  { name: 'absolute form', same: false, spell: (p) => `https://127.0.0.1${p}` },
];

describe('attack suite: every protected operation, every credential, every spelling', () => {
  let s: TestServer;
  let sid: string;
  let loggedOut: string;
  let operations: Operation[] = [];

  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
    loggedOut = await s.login();
    expect((await s.req('DELETE', '/api/endeavour/session', { sid: loggedOut })).status).toBe(204);
    const doc = (await s.req('GET', '/api/openapi.json', { exactHeaders: true })).json as {
      security: Record<string, unknown>[];
      paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>>;
    };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'delete', 'patch', 'head', 'options'].includes(method)) continue;
        operations.push({ method: method.toUpperCase(), path, security: op.security ?? doc.security });
      }
    }
  });

  afterAll(async () => {
    await s?.stop();
  });

  /** An operation needs a login session unless its `security` lists none (public) or only Basic (the login). */
  const protectedOps = () => operations.filter((o) => o.security!.some((r) => 'sessionid' in r));
  /** Path parameters get a plausible id: an attacker knows job 1004 exists. */
  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, '1004');

  it('finds the operations in the served document', () => {
    expect(operations.length).toBeGreaterThan(40);
    // The ones the bypass reached: jobs, job start, identities, logout, /ngp.
    const names = protectedOps().map((o) => `${o.method} ${o.path}`);
    for (const must of ['GET /api/endeavour/job', 'POST /api/endeavour/job/{id}', 'POST /api/identity/user', 'DELETE /api/endeavour/session', 'GET /ngp/appserver', 'GET /metrics']) {
      expect(names).toContain(must);
    }
  });

  it('answers 401, 400 or 404 to every protected operation and spelling without a valid session, never 2xx', async () => {
    const sessionsBefore = (await s.req('GET', '/api/endeavour/jobsession', { sid })).json.total;
    const credentials: [string, Record<string, string>][] = [
      ['no session', {}],
      ['random session', { 'X-Endeavour-Sessionid': randomBytes(16).toString('hex') }],
      ['logged-out session', { 'X-Endeavour-Sessionid': loggedOut }],
    ];
    const wrong: string[] = [];
    let sent = 0;
    for (const op of protectedOps()) {
      for (const [who, headers] of credentials) {
        const replies = await Promise.all(SPELLINGS.map(async (sp) => {
          const path = sp.spell(concrete(op.path)) + (op.method === 'POST' && op.path.includes('{id}') ? '?action=start' : '');
          const r = await rawRequest(s.url, op.method, path, {
            headers: { ...headers, ...(op.method === 'POST' || op.method === 'PUT' ? { 'Content-Type': 'application/json' } : {}) },
            ...(op.method === 'POST' || op.method === 'PUT' ? { body: '{"name":"x","hostAddress":"127.0.0.1","applicationType":"postgresql"}' } : {}),
          });
          return [sp, path, r] as const;
        }));
        for (const [sp, path, r] of replies) {
          sent++;
          const allowed = sp.same ? [401] : [400, 401, 404];
          if (!allowed.includes(r.status)) wrong.push(`${op.method} ${JSON.stringify(path)} (${sp.name}, ${who}) → ${r.status} ${r.text.slice(0, 120)}`);
          if (r.status >= 400 && op.method !== 'HEAD') expectSppError(r);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(sent).toBeGreaterThan(40 * 3 * SPELLINGS.length);
    // Nothing was started, nothing written "by unknown".
    const after = await s.req('GET', '/api/endeavour/jobsession', { sid });
    expect(after.json.total).toBe(sessionsBefore);
    expect((await s.req('GET', '/api/identity/user', { sid })).json.users).toEqual([]);
  }, 120_000); // thousands of requests: ~12 s on this 2-core VM, over 30 s when its host starves it

  it('reaches the same route through every spelling the one rule accepts, with a session', async () => {
    for (const sp of SPELLINGS.filter((x) => x.same)) {
      for (const path of ['/api/endeavour/job', '/ngp/appserver', '/api/endeavour/job/1004']) {
        const r = await rawRequest(s.url, 'GET', sp.spell(path), { headers: { 'X-Endeavour-Sessionid': sid } });
        expect(r.status, `${sp.name}: ${sp.spell(path)}`).toBe(200);
      }
    }
  });

  it('refuses spellings that could name another path with a 400 in SPP shape, before any login check', async () => {
    for (const path of ['/api/./endeavour/job', '/api/x/../endeavour/job', '/api%2Fendeavour/job', '/api\\endeavour\\job', '/api/endeavour/job%2e%2e', '/api/%2e%2e/api/endeavour/job', '/api/endeavour/job%']) {
      const r = await rawRequest(s.url, 'GET', path, { headers: { 'X-Endeavour-Sessionid': sid } });
      expect(r.status, path).toBe(path.endsWith('job%2e%2e') ? 404 : 400);
      expectSppError(r);
    }
    // Under /ngp the error is wrapped the NodeJS layer's way, whatever the spelling.
    const ngp = await rawRequest(s.url, 'GET', '/%6egp/appserver/abc', { headers: { 'X-Endeavour-Sessionid': sid } });
    expect(ngp.status).toBe(400);
    expect(JSON.parse(ngp.text)).toMatchObject({ statusCode: 400, response: { id: expect.any(String) }, id: expect.any(String) });
  });

  it('keeps the public operations public, and nothing else', async () => {
    const open = operations.filter((o) => !o.security!.some((r) => 'sessionid' in r)).map((o) => `${o.method} ${o.path}`).sort();
    expect(open).toEqual([
      'GET /api/lifecycle/ping',
      'GET /ngp/version',
      'OPTIONS /api/endeavour/session',
      'POST /api/endeavour/session',
    ]);
    for (const path of ['/api/lifecycle/ping', '/%61pi/lifecycle/ping', '/ngp/version']) {
      expect((await rawRequest(s.url, 'GET', path)).status, path).toBe(200);
    }
  });
});

function expectSppError(r: RawReply): void {
  let body: unknown;
  try {
    body = JSON.parse(r.text);
  } catch {
    throw new Error(`not JSON (${r.status}): ${r.text.slice(0, 200)}`);
  }
  expect(body).toMatchObject({ id: expect.any(String), description: expect.any(String) });
}
