/**
 * Request bodies are validated by the same schemas the OpenAPI document shows (src/api/schemas/):
 * for every operation that documents a JSON body, a body with one field of the wrong type is a
 * 400 XSBInvalidArgumentException that names the field (wrapped under /ngp) and changes nothing;
 * and the loose types SPP clients send keep working, because the schemas declare them: a port as
 * a numeric string, "true" for a boolean, no body at all for an action.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectSchemas, operationsOf, type Schema } from './security/support/operations.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';

let srv: TestServer;
let sid = '';

beforeAll(async () => {
  srv = await startTestServer();
  sid = await srv.login();
});

afterAll(async () => {
  await srv?.stop();
});

/** A value no property of these bodies takes: an array of arrays (no body field is a list of lists). */
const WRONG = [[1]];

describe('body schemas', () => {
  it('every operation with a JSON body refuses a wrong-typed field with a 400 naming it', async () => {
    const doc = (await srv.req('GET', '/api/openapi.json')).json;
    const ops = operationsOf(doc).filter((op) => op.body);
    expect(ops.length).toBeGreaterThanOrEqual(8);
    const tried: string[] = [];
    for (const op of ops) {
      const props = objectSchemas(op.body).flatMap((s) => Object.entries((s.properties ?? {}) as Record<string, Schema>));
      if (!props.length) continue; // a body with nothing in it to get wrong (`{}` is all it takes)
      for (const [field] of props.slice(0, 3)) {
        const path = op.path.replace(/\{[^}]+\}/g, '1');
        const r = await srv.req(op.method, path, { sid, body: { [field]: WRONG } });
        const what = `${op.method} ${op.path} {"${field}": [[1]]}: ${r.text}`;
        expect(r.status, what).toBe(400);
        const error = op.ngp ? r.json.response : r.json;
        if (op.ngp) expect(r.json.statusCode, what).toBe(400);
        expect(error.id, what).toBe('XSBInvalidArgumentException');
        expect(error.description, what).toContain(`"${field}`);
        tried.push(`${op.method} ${op.path} ${field}`);
      }
    }
    for (const must of ['POST /api/appserver portNumber', 'POST /ngp/appserver portNumber', 'POST /api/identity/user username', 'PUT /api/endeavour/job/{id}/trigger time', 'POST /api/endeavour/session newPassword']) {
      expect(tried.some((t) => t.startsWith(must.split(' ').slice(0, 2).join(' '))), must).toBe(true);
    }
    // Nothing of it was saved or started.
    expect((await srv.req('GET', '/api/appserver', { sid })).json.total).toBe(0);
    expect((await srv.req('GET', '/api/endeavour/job/1004', { sid })).json.status).toBe('IDLE');
  });

  it('names the field and keeps the messages clients know', async () => {
    const good = { hostAddress: 'db1.example', applicationType: 'postgresql', username: 'u', password: 'p' };
    const port = await srv.req('POST', '/api/appserver', { sid, body: { ...good, portNumber: 'eighty' } });
    expect(port.status).toBe(400);
    expect(port.json).toEqual({ id: 'XSBInvalidArgumentException', description: '"portNumber" must be a whole number from 1 to 65535.' });
    const missing = await srv.req('POST', '/api/appserver', { sid, body: { applicationType: 'postgresql' } });
    expect(missing.json.description).toBe('"hostAddress" is required.');
    const notObject = await srv.req('POST', '/api/identity/user', { sid, raw: '5' });
    expect(notObject.json).toEqual({ id: 'XSBInvalidArgumentException', description: 'The request body must be a JSON object.' });
    const ngp = await srv.req('POST', '/ngp/appserver', { sid, body: { ...good, useKeyAuthentication: 'maybe' } });
    expect(ngp.json).toMatchObject({ statusCode: 400, response: { id: 'XSBInvalidArgumentException', description: '"useKeyAuthentication" must be true or false.' } });
    const bulk = await srv.req('POST', '/api/appserver?action=bulk', { sid, body: [good, { ...good, portNumber: true }] });
    expect(bulk.status).toBe(400);
    expect(bulk.json.description).toContain('"[1].portNumber"');
  });

  it('takes what SPP clients send: numbers as strings, "true", extra fields, no body', async () => {
    const id = (await srv.req('POST', '/api/identity/user', { sid, body: { username: 'census', password: 'pw', comment: null, extra: { any: 1 } } })).json.id as string;
    expect(id).toMatch(/^\d+$/);
    const r = await srv.req('POST', '/api/appserver', {
      sid,
      body: { hostAddress: '127.0.0.1', portNumber: '8443', applicationType: 'postgresql', osuser: { href: `${srv.url}/api/identity/user/${id}` }, addToCatJob: 'true', screenInfo: { w: 1 } },
    });
    expect(r.status, r.text).toBe(201);
    expect(r.json.portNumber).toBe(8443);
    // "true" started the inventory of the new server.
    const job = await waitFor(async () => {
      const j = (await srv.req('GET', '/api/endeavour/job/1004', { sid })).json;
      return j.lastrun ? j : undefined;
    }, 'an inventory session');
    expect(job.lastrun.jobName).toBeTruthy();
    await waitFor(async () => ((await srv.req('GET', '/api/endeavour/job/1004', { sid })).json.status === 'IDLE' ? true : undefined), 'the inventory to end');

    // No body at all (and an empty one) starts a job, as SPP clients POST it.
    for (const o of [{ exactHeaders: true }, { raw: '' }, { body: {} }]) {
      const start = await srv.req('POST', '/api/endeavour/job/1001?action=start', { sid, ...o });
      expect(start.status, start.text).toBe(200);
      expect(start.json.id).toBe('1001');
    }
    const ping = await srv.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: (await import('./support/server.ts')).ADMIN_PASSWORD }, raw: '' });
    expect(ping.status).toBe(200);
  });
});
