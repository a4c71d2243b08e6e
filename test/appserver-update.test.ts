/**
 * Updating an application server in place (PUT /api/appserver/{id}, PUT /ngp/appserver/{id}),
 * through the application server service: the id and the inventory history stay, fields left out
 * stay, the new credentials are the ones the next connection test and inventory use, and the
 * registration rules (type, port, duplicates, identity kind) hold as they do for a new server.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { runInventory, startTestServer, type TestServer } from './support/server.ts';

describe('updating an application server', () => {
  let s: TestServer;
  let sid: string;
  const port = inject('pgAuthPort');

  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
  });
  afterAll(async () => s?.stop());

  const loginCheck = async (id: string) => {
    const r = await s.req('POST', `/api/appserver/${id}?action=test`, { sid, body: {} });
    expect(r.status).toBe(200);
    return (r.json.configGroups[0].tests as { name: string; status: string; message?: string }[]).find((t) => t.name === 'login')!;
  };

  it('changes fields in place, keeps the rest, and the next test and inventory use the new credentials', async () => {
    const good = (await s.req('POST', '/api/identity/user', { sid, body: { name: 'good', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS } })).json;
    const reg = await s.req('POST', '/api/appserver', {
      sid, body: { name: 'pg-a', hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', osuser: { href: good.links.self.href }, comment: 'first' },
    });
    expect(reg.status).toBe(201);
    const id = reg.json.id as string;
    const first = await runInventory(s, sid);
    expect(first.status).toBe('COMPLETED');
    const instancesBefore = (await s.req('GET', `/api/application/postgresql/instance`, { sid })).json.total as number;
    expect(instancesBefore).toBeGreaterThan(0);

    // A rename and a new comment: nothing else moves.
    const renamed = await s.req('PUT', `/api/appserver/${id}`, { sid, body: { name: 'pg-renamed', comment: 'second' } });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ id, name: 'pg-renamed', comment: 'second', hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql' });
    expect(renamed.json.osuser.href).toBe(good.links.self.href);
    expect((await s.req('GET', `/api/appserver/${id}`, { sid })).json.name).toBe('pg-renamed');

    // Wrong credentials, inline through the NodeJS layer: the connection test now fails with them.
    const wrong = await s.req('PUT', `/ngp/appserver/${id}`, { sid, body: { username: AUTH_SUPERUSER, password: 'not-the-password' } });
    expect(wrong.status).toBe(200);
    expect(wrong.json.statusCode).toBe(200);
    expect(wrong.json.response.name).toBe('pg-renamed');
    expect(wrong.text).not.toContain('not-the-password');
    expect(wrong.json.response.osuser.href).not.toBe(good.links.self.href);
    const failed = await loginCheck(id);
    expect(failed.status).toBe('FAILED');
    expect(failed.message).toMatch(/password authentication failed/);

    // Back to the good identity by reference: the test and the inventory succeed again, on the same server id.
    const back = await s.req('PUT', `/api/appserver/${id}`, { sid, body: { osuser: { href: good.links.self.href } } });
    expect(back.status).toBe(200);
    expect((await loginCheck(id)).status).toBe('SUCCESS');
    const second = await runInventory(s, sid);
    expect(second.status).toBe('COMPLETED');
    expect((await s.req('GET', '/api/appserver', { sid })).json.total).toBe(1);
    expect((await s.req('GET', `/api/application/postgresql/instance`, { sid })).json.total).toBe(instancesBefore);
  });

  it('holds the registration rules: type, port, duplicates, identity kind, unknown ids', async () => {
    const ident = (await s.req('POST', '/api/identity/user', { sid, body: { username: 'u', password: 'p' } })).json;
    const mk = async (name: string, portNumber: number) => (await s.req('POST', '/api/appserver', {
      sid, body: { name, hostAddress: '127.0.0.2', portNumber, applicationType: 'postgresql', osuser: { href: ident.links.self.href } },
    })).json.id as string;
    const a = await mk('rule-a', 15001);
    await mk('rule-b', 15002);

    const type = await s.req('PUT', `/api/appserver/${a}`, { sid, body: { applicationType: 'mysql' } });
    expect(type.status).toBe(400);
    expect(type.json.id).toBe('XSBInvalidArgumentException');
    expect(type.json.description).toMatch(/application type .* cannot change/);
    // The same type, in any case, is not a change.
    expect((await s.req('PUT', `/api/appserver/${a}`, { sid, body: { applicationType: 'PostgreSQL' } })).status).toBe(200);

    const badPort = await s.req('PUT', `/api/appserver/${a}`, { sid, body: { portNumber: 70000 } });
    expect(badPort.status).toBe(400);
    expect(badPort.json.description).toContain('portNumber');
    // A numeric string is a port, as in registration.
    const strPort = await s.req('PUT', `/api/appserver/${a}`, { sid, body: { portNumber: '15003' } });
    expect(strPort.status).toBe(200);
    expect(strPort.json.portNumber).toBe(15003);

    const dup = await s.req('PUT', `/api/appserver/${a}`, { sid, body: { portNumber: 15002 } });
    expect(dup.status).toBe(409);
    expect(dup.json.id).toBe('XSBConflictException');
    expect(dup.json.description).toContain('rule-b');
    expect((await s.req('GET', `/api/appserver/${a}`, { sid })).json.portNumber).toBe(15003);

    const key = await s.req('PUT', `/api/appserver/${a}`, { sid, body: { useKeyAuthentication: true } });
    expect(key.status).toBe(400);
    expect(key.json.description).toMatch(/password/);

    const host = await s.req('PUT', `/api/appserver/${a}`, { sid, body: { hostAddress: 'bad host!' } });
    expect(host.status).toBe(400);
    expect(host.json.description).toContain('hostAddress');

    const missing = await s.req('PUT', '/api/appserver/999999', { sid, body: { name: 'x' } });
    expect(missing.status).toBe(404);
    expect(missing.json.id).toBe('XSBObjectNotFoundException');
    const ngpMissing = await s.req('PUT', '/ngp/appserver/999999', { sid, body: { name: 'x' } });
    expect(ngpMissing.status).toBe(404);
    expect(ngpMissing.json.statusCode).toBe(404);

    const noSession = await s.req('PUT', `/api/appserver/${a}`, { body: { name: 'x' } });
    expect(noSession.status).toBe(401);
    expect((await s.req('GET', `/api/appserver/${a}`, { sid })).json.name).toBe('rule-a');
  });
});
