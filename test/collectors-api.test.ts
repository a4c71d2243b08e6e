/**
 * GET /api/census/collector[/{type}]: every registered collector's metadata, in SPP's collection
 * shape, straight from src/collectors/registry.ts; and registration refuses a type the registry
 * does not have, naming the ones it does.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorRegistry } from '../src/collectors/registry.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const registered = [...collectorRegistry().values()].map((c) => c.info);

describe('GET /api/census/collector', () => {
  let s: TestServer;
  let sid: string;

  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('lists every registered collector with its metadata, in registration order', async () => {
    const r = await s.req('GET', '/api/census/collector', { sid });
    expect(r.status).toBe(200);
    expect(r.json.total).toBe(registered.length);
    expect(r.json.page).toBe(1);
    expect(r.json.links.self.href).toBe(`${s.url}/api/census/collector`);
    expect(r.json.collectors.map((c: { type: string }) => c.type)).toEqual(registered.map((i) => i.type));
    for (const [n, info] of registered.entries()) {
      const c = r.json.collectors[n];
      expect(c).toMatchObject({
        id: info.type,
        type: info.type,
        displayName: info.displayName,
        serverNoun: info.serverNoun ?? `${info.displayName} server`,
        group: info.group,
        defaultPort: info.defaultPort,
        childTypes: [...info.childTypes],
        identityKinds: [...info.identityKinds],
        tls: info.tls,
        checks: info.checks.map(({ name, description }) => ({ name, description })),
        resourceType: 'collector',
      });
      expect(c.links.self.href).toBe(`${s.url}/api/census/collector/${info.type}`);
    }
  });

  it('says what the three first collectors are', async () => {
    const r = await s.req('GET', '/api/census/collector', { sid });
    const byType = new Map(r.json.collectors.map((c: { type: string }) => [c.type, c]));
    expect(byType.get('postgresql')).toMatchObject({
      displayName: 'PostgreSQL', group: 'databases', defaultPort: 5432, childTypes: ['database'], identityKinds: ['password'], tls: true,
    });
    expect(byType.get('mysql')).toMatchObject({
      displayName: 'MySQL/MariaDB', group: 'databases', defaultPort: 3306, childTypes: ['database'], identityKinds: ['password'], tls: true,
    });
    expect(byType.get('file')).toMatchObject({
      serverNoun: 'Linux host', group: 'file-systems', defaultPort: 22, childTypes: ['filesystem'], identityKinds: ['key', 'password'], tls: false,
    });
    expect((byType.get('postgresql') as { checks: { name: string }[] }).checks.map((c) => c.name))
      .toEqual(['connect', 'login', 'catalog', 'settings', 'replication', 'databases']);
  });

  it('filters and pages like every SPP list', async () => {
    const dbs = await s.req('GET', `/api/census/collector?filter=${encodeURIComponent(JSON.stringify([{ property: 'group', value: 'databases' }]))}`, { sid });
    expect(dbs.status).toBe(200);
    expect(dbs.json.collectors.map((c: { type: string }) => c.type)).toEqual(registered.filter((i) => i.group === 'databases').map((i) => i.type));
    const first = await s.req('GET', '/api/census/collector?pageSize=1', { sid });
    expect(first.json.collectors).toHaveLength(1);
    expect(first.json.total).toBe(registered.length);
    expect(first.json.links.nextPage.href).toContain('pageStartIndex=1');
  });

  it('answers one collector by type, case-insensitively', async () => {
    const r = await s.req('GET', '/api/census/collector/MySQL', { sid });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ type: 'mysql', displayName: 'MySQL/MariaDB', defaultPort: 3306 });
    expect(r.json.links.up.href).toBe(`${s.url}/api/census/collector`);
  });

  it('answers 404 in SPP shape for a type Census cannot inventory', async () => {
    const r = await s.req('GET', '/api/census/collector/oracle', { sid });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ id: 'XSBObjectNotFoundException', description: 'Collector "oracle" does not exist.' });
  });

  it('needs a login session', async () => {
    for (const path of ['/api/census/collector', '/api/census/collector/postgresql']) {
      const r = await s.req('GET', path);
      expect(r.status).toBe(401);
      expect(r.json.id).toBe('XSBMissingSessionidException');
    }
  });

  it('registration refuses a type not in the registry, naming the ones it has', async () => {
    const r = await s.req('POST', '/ngp/appserver', { sid, body: { hostAddress: '127.0.0.1', applicationType: 'oracle', username: 'u', password: 'p' } });
    expect(r.status).toBe(400);
    expect(r.json.id).toBe('XSBInvalidArgumentException');
    expect(r.json.description).toBe(`Census cannot inventory application type "oracle" yet; it can: ${registered.filter((i) => i.group !== 'hypervisors').map((i) => i.type).join(', ')}.`);
  });
});

describe('registration and the identity kinds a collector accepts', () => {
  let s: TestServer;
  let sid: string;
  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('refuses an SSH key for a type that logs in with a password only', async () => {
    const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const r = await s.req('POST', '/ngp/appserver', { sid, body: { hostAddress: '127.0.0.1', applicationType: 'postgresql', username: 'u', privatekey: privateKey } });
    expect(r.status).toBe(400);
    expect(r.json.response).toMatchObject({ id: 'XSBInvalidArgumentException', description: 'A postgresql server logs in with a password, not with an SSH key.' });
    // The same key for a file host is fine.
    const ok = await s.req('POST', '/ngp/appserver', { sid, body: { hostAddress: '127.0.0.1', portNumber: 2222, applicationType: 'file', username: 'u', privatekey: privateKey } });
    expect(ok.status).toBe(201);
    expect(ok.json.response).toMatchObject({ applicationType: 'file', useKeyAuthentication: true });
  });
});

describe('the collector registry', () => {
  it('has one collector per type, each with applicationType equal to its info.type and at least one check', () => {
    const registry = collectorRegistry();
    expect(registry.size).toBeGreaterThanOrEqual(3);
    for (const [type, c] of registry) {
      expect(c.info.type).toBe(type);
      expect(c.applicationType).toBe(type);
      expect(c.info.checks.length).toBeGreaterThan(0);
      expect(new Set(c.info.checks.map((k) => k.name)).size).toBe(c.info.checks.length);
      expect(c.info.identityKinds.length).toBeGreaterThan(0);
      expect(c.info.childTypes.length).toBeGreaterThan(0);
    }
  });

  it('refuses two collectors of one type, and an applicationType that is not info.type', () => {
    const pg = collectorRegistry().get('postgresql')!;
    expect(() => collectorRegistry([pg, pg])).toThrow('two collectors have the type "postgresql"');
    expect(() => collectorRegistry([{ ...pg, applicationType: 'pg' }])).toThrow('collector "postgresql" has applicationType "pg"');
  });
});
