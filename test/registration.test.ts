/**
 * Registering application servers: SSH-key and password identities that never come back out,
 * bulk registration from JSON and CSV (all validated before any is saved, one inventory session
 * for all), and the connection test.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_SECOND_HOST, AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';

describe('registration', () => {
  let s: TestServer;
  let sid: string;
  const port = inject('pgAuthPort');

  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
  });
  afterAll(async () => s?.stop());

  const count = async () => (await s.req('GET', '/api/appserver', { sid })).json.total as number;

  it('keeps SSH keys as identities that are never returned', async () => {
    const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const created = await s.req('POST', '/api/identity/key', { sid, body: { name: 'ops key', username: 'backup', privatekey: privateKey, passphrase: 'pp-secret' } });
    expect(created.status).toBe(201);
    const listed = await s.req('GET', '/api/identity/key', { sid });
    const one = await s.req('GET', `/api/identity/key/${created.json.id}`, { sid });
    for (const r of [created, listed, one]) {
      expect(r.text).not.toContain('PRIVATE KEY');
      expect(r.text).not.toContain('pp-secret');
    }
    expect(listed.json.keys.map((k: { name: string }) => k.name)).toEqual(['ops key']);
    expect((await s.req('GET', '/api/identity/user', { sid })).json.users).toEqual([]);
    // A key identity is not a password identity.
    expect((await s.req('GET', `/api/identity/user/${created.json.id}`, { sid })).status).toBe(404);
    const bad = await s.req('POST', '/api/identity/key', { sid, body: { username: 'x', privatekey: 'not a key' } });
    expect(bad.status).toBe(400);
    expect(bad.json.description).toContain('privatekey');
  });

  it('refuses a whole bulk request when one entry is bad, saying which', async () => {
    const before = await count();
    const r = await s.req('POST', '/api/appserver?action=bulk', {
      sid,
      body: [
        { name: 'ok', hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS },
        { name: 'no-host', applicationType: 'postgresql', username: 'u', password: 'p' },
        { name: 'bad-type', hostAddress: 'h', applicationType: 'oracle', username: 'u', password: 'p' },
        { name: 'dup', hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', username: 'u', password: 'p' },
      ],
    });
    expect(r.status).toBe(400);
    expect(r.json.id).toBe('XSBInvalidArgumentException');
    expect(r.json.description).toMatch(/entry 2: "hostAddress" is required/);
    expect(r.json.description).toMatch(/entry 3: .*"oracle"/);
    expect(r.json.description).toMatch(/entry 4: the same server as entry 1/);
    expect(r.json.description).not.toContain(AUTH_SUPERPASS);
    expect(await count()).toBe(before);
    expect((await s.req('GET', '/api/identity/user', { sid })).json.total).toBe(0);
  });

  it('registers a JSON array and inventories it in one session', async () => {
    const r = await s.req('POST', '/api/appserver', {
      sid,
      body: [
        { name: 'bulk-a', hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS },
        { name: 'bulk-b', hostAddress: AUTH_SECOND_HOST, portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS },
      ],
    });
    expect(r.status).toBe(201);
    expect(r.json.total).toBe(2);
    const session = await waitFor(async () => {
      const x = await s.req('GET', `/api/endeavour/jobsession/${r.json.sessionId}`, { sid });
      return x.json.status === 'RUNNING' ? undefined : x.json;
    }, 'the bulk session to end');
    expect(session).toMatchObject({ status: 'COMPLETED', numTasks: 2 });
    expect(session.policySnapshot.spec.source.map((x: { name: string }) => x.name).sort()).toEqual(['bulk-a', 'bulk-b']);
    expect(session.properties.trigger).toBe('registration');
  });

  it('registers CSV with a header row', async () => {
    for (const a of (await s.req('GET', '/api/appserver', { sid })).json.appservers) await s.req('DELETE', `/api/appserver/${a.id}`, { sid });
    const csv = [
      'name,hostAddress,portNumber,applicationType,username,password',
      `csv-a,127.0.0.1,${port},postgresql,${AUTH_SUPERUSER},"${AUTH_SUPERPASS}"`,
      `csv-b,${AUTH_SECOND_HOST},${port},postgresql,${AUTH_SUPERUSER},wrong-one`,
    ].join('\r\n');
    const r = await s.req('POST', '/api/appserver?action=bulk', { sid, raw: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(r.status).toBe(201);
    expect(r.json.appservers.map((a: { name: string }) => a.name)).toEqual(['csv-a', 'csv-b']);
    const session = await waitFor(async () => {
      const x = await s.req('GET', `/api/endeavour/jobsession/${r.json.sessionId}`, { sid });
      return x.json.status === 'RUNNING' ? undefined : x.json;
    }, 'the CSV session to end');
    expect(session.status).toBe('PARTIAL');
    const bad = await s.req('POST', '/api/appserver?action=bulk', { sid, raw: 'name,hostAddress\n"unterminated', headers: { 'Content-Type': 'text/csv' } });
    expect(bad.status).toBe(400);
  });

  it('tests a connection and says what passed and what did not', async () => {
    const servers = (await s.req('GET', '/api/appserver', { sid })).json.appservers as { id: string; name: string }[];
    const good = servers.find((a) => a.name === 'csv-a')!;
    const wrong = servers.find((a) => a.name === 'csv-b')!;
    const ok = await s.req('POST', `/api/appserver/${good.id}?action=test`, { sid, body: { type: 'application' } });
    expect(ok.status).toBe(200);
    expect(ok.json.testsComplete).toBe(true);
    const tests = ok.json.configGroups[0].tests as { name: string; status: string }[];
    expect(tests.find((t) => t.name === 'login')?.status).toBe('SUCCESS');
    const again = await s.req('GET', ok.json.statusHref, { sid });
    expect(again.json.configGroups).toEqual(ok.json.configGroups);

    const failed = await s.req('POST', `/api/appserver/${wrong.id}?action=test`, { sid, body: { type: 'application' } });
    const checks = failed.json.configGroups[0].tests as { name: string; status: string; message?: string }[];
    const login = checks.find((t) => t.name === 'login')!;
    expect(login.status).toBe('FAILED');
    expect(login.message).toMatch(/password authentication failed/);
    expect(login.message).toContain('csv-b');
    expect(failed.text).not.toContain('wrong-one');
    expect(checks.slice(checks.indexOf(login) + 1).every((t) => t.status === 'SKIPPED')).toBe(true);
  });

  it('logs in over TLS when asked, and says so plainly when the server cannot', async () => {
    const bad = await s.req('POST', '/ngp/appserver', { sid, body: { hostAddress: '127.0.0.9', portNumber: port, applicationType: 'postgresql', username: 'u', password: 'p', tls: 'sometimes' } });
    expect(bad.status).toBe(400);
    expect(bad.json.description).toMatch(/"tls" must be one of disable, require, verify/);
    // The local servers have TLS switched off: asking for it fails with a TLS message, not a vague one.
    for (const [type, hostPort] of [['postgresql', 5432], ['mysql', 3306]] as const) {
      const reg = await s.req('POST', '/ngp/appserver', {
        sid, body: { name: `tls-${type}`, hostAddress: '127.0.0.1', portNumber: hostPort, applicationType: type, username: 'root', password: 'x', tls: 'require' },
      });
      expect(reg.status).toBe(201);
      expect(reg.json.response.tls).toBe('require');
      const test = await s.req('POST', `/api/appserver/${reg.json.response.id}?action=test`, { sid, body: {} });
      const checks = test.json.configGroups[0].tests as { name: string; status: string; message?: string }[];
      const failed = checks.find((c) => c.status === 'FAILED')!;
      expect(failed.message).toMatch(/TLS|SSL|secure connection/);
      expect(failed.message).toContain(`tls-${type}`);
    }
  });
});
