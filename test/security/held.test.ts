/**
 * What held when Census was attacked, kept holding: no secret in any answer, log entry or data
 * file; simultaneous starts make one session; oversized bodies are refused before they are read;
 * login session ids are unique 32-hex values.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentListener } from '../support/silent-listener.ts';
import { ADMIN_PASSWORD, runInventory, startTestServer, waitFor, type Reply, type TestServer } from '../support/server.ts';

describe('what held must keep holding', () => {
  let s: TestServer;
  let sid: string;

  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
  });

  afterAll(async () => {
    await s?.stop();
  });

  it('starts one session when 50 clients start the inventory at once', async () => {
    // A server that never answers keeps the session running while the starts arrive.
    const silent = await silentListener();
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'silent', username: 'u', password: 'p' } });
    const reg = await s.req('POST', '/api/appserver', {
      sid, body: { name: 'silent', hostAddress: '127.0.0.1', portNumber: silent.port, applicationType: 'postgresql', osuser: { href: ident.json.links.self.href } },
    });
    expect(reg.status).toBe(201);
    await waitFor(async () => ((await s.req('GET', '/api/endeavour/job/1004', { sid })).json.status === 'IDLE' ? true : undefined), 'the registration inventory to end', 30_000);
    const before = (await s.req('GET', '/api/endeavour/jobsession', { sid })).json.total as number;
    const starts = await Promise.all(Array.from({ length: 50 }, () => s.req('POST', '/api/endeavour/job/1004?action=start', { sid })));
    for (const r of starts) expect(r.status).toBe(200);
    expect(new Set(starts.map((r) => r.json.lastrun.sessionId)).size).toBe(1);
    const after = (await s.req('GET', '/api/endeavour/jobsession', { sid })).json.total as number;
    expect(after).toBe(before + 1);
    await s.req('POST', `/api/endeavour/jobsession/${starts[0]!.json.lastrun.sessionId}?action=cancel`, { sid });
    await s.req('DELETE', `/api/appserver/${reg.json.id}`, { sid });
    await silent.close();
  });

  it('refuses a 100 MB body from its Content-Length, before reading it', async () => {
    const { hostname, port } = new URL(s.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
        // Only the headers and a few bytes: the answer must come without the rest.
        socket.write(`POST /api/appserver HTTP/1.1\r\nHost: x\r\nX-Endeavour-Sessionid: ${sid}\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n{"a":`);
      });
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('\r\n\r\n') && text.includes('}')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      setTimeout(() => reject(new Error('no answer to a 100 MB Content-Length')), 10_000).unref();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('XSBRequestTooLargeException');
    expect((await s.req('GET', '/api/endeavour/job/1004', { sid })).status).toBe(200);
  });

  it('gives every login a unique 32-hex session id', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, () => s.login()));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps passwords and session ids out of every answer, log entry and data file', async () => {
    const secret = 'Held-Secret-Passphrase-93';
    const replies: Reply[] = [];
    const keep = async (p: Promise<Reply>) => {
      const r = await p;
      replies.push(r);
      return r;
    };
    const ident = await keep(s.req('POST', '/api/identity/user', { sid, body: { name: 'held', username: 'dba', password: secret } }));
    expect(ident.status).toBe(201);
    // A server that refuses connections: the inventory fails and writes its errors to the log.
    const reg = await keep(s.req('POST', '/api/appserver', {
      sid, body: { name: 'refusing', hostAddress: '127.0.0.1', portNumber: 1, applicationType: 'postgresql', osuser: { href: ident.json.links.self.href } },
    }));
    expect(reg.status).toBe(201);
    await keep(s.req('POST', `/api/appserver/${reg.json.id}?action=test`, { sid }));
    const session = await runInventory(s, sid);
    expect(['FAILED', 'PARTIAL']).toContain(session.status);
    await keep(s.req('GET', `/api/endeavour/log/job?pageSize=1000&filter=${encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: session.id }]))}`, { sid }));
    for (const path of ['/api/identity/user', '/api/appserver', '/ngp/appserver', '/api/endeavour/jobsession', `/api/endeavour/jobsession/${session.id}`]) {
      await keep(s.req('GET', path, { sid }));
    }
    const log = replies.at(-6)!;
    expect(log.status).toBe(200);
    expect(log.text).toContain('refusing');
    for (const r of replies) {
      expect(r.text).not.toContain(secret);
      expect(r.text).not.toContain(ADMIN_PASSWORD);
    }
    // The data files: credentials sealed, the admin password hashed, session ids hashed.
    const files = readdirSync(s.dataDir).map((f) => join(s.dataDir, f)).filter((f) => statSync(f).isFile());
    expect(files.some((f) => f.endsWith('census.db'))).toBe(true);
    for (const f of files) {
      const bytes = readFileSync(f);
      expect(bytes.includes(secret), f).toBe(false);
      if (!f.endsWith('initial-admin-password')) expect(bytes.includes(ADMIN_PASSWORD), f).toBe(false);
      expect(bytes.includes(sid), f).toBe(false);
    }
  });
});
