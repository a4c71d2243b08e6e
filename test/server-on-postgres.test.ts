/** The whole server on PostgreSQL (`--database postgres://…`): the same API over the same repositories. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';
import { createPgSchema, PG_URL } from './support/stores.ts';

describe('census server --database postgres://', () => {
  let s: TestServer;
  let drop: () => Promise<void>;
  let sid: string;

  beforeAll(async () => {
    const schema = await createPgSchema();
    drop = schema.drop;
    s = await startTestServer({ database: PG_URL, schema: schema.schema, withWorker: true });
    sid = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
    await drop?.();
  });

  it('keeps its state in PostgreSQL and runs the inventory end to end', async () => {
    expect(s.census.store.dialect).toBe('postgres');
    const port = inject('pgAuthPort');
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'pg', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS } });
    const reg = await s.req('POST', '/api/appserver', {
      sid, body: { hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', osuser: { href: ident.json.links.self.href }, addToCatJob: true },
    });
    expect(reg.status).toBe(201);
    const idle = await waitFor(async () => {
      const j = (await s.req('GET', '/api/endeavour/job/1004', { sid })).json;
      return j.status === 'IDLE' && j.lastrun.sessionId !== undefined && j.lastSessionStatus === 'COMPLETED' && j.lastrun.numTasks === 1 ? j : undefined;
    }, 'the registration inventory to complete');
    const session = await s.req('GET', `/api/endeavour/jobsession/${idle.lastrun.sessionId}`, { sid });
    expect(session.json.properties.trigger).toBe('registration');
    const instances = await s.req('GET', '/api/application/postgresql/instance', { sid });
    expect(instances.json.total).toBe(1);
    const history = await s.req('GET', '/api/endeavour/jobsession/history/jobid/1004', { sid });
    expect(history.json.total).toBe(2); // the first-start run and this one
  });
});
