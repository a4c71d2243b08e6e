/**
 * The edges of a request that an attacker leans on: a body or headers that stop arriving, idle
 * connections, many connections from one address, deep JSON, and the headers every answer must
 * carry. Deadlines are set short through the server's own settings, and every wait is for a
 * condition (an answer, a closed socket) with a deadline.
 */
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_LIMITS } from '../../src/api/http-limits.ts';
import { rawRequest } from '../support/raw-request.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

interface RawConnection {
  socket: tls.TLSSocket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<{ text: string; afterMs: number }>;
}

function connect(url: string, localAddress = '127.0.0.1'): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    // localAddress goes through to the TCP connection (tls.connect's types leave it out).
    const options = { host: hostname, port: Number(port), rejectUnauthorized: false, localAddress } as tls.ConnectionOptions;
    const socket = tls.connect(options, () => resolve({ socket, closed }));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<{ text: string; afterMs: number }>((done) => socket.once('close', () => done({ text: Buffer.concat(chunks).toString('utf8'), afterMs: Date.now() - started })));
    socket.once('error', reject);
  });
}

/** Resolves with what the server sent before it closed, or fails at the deadline. */
function closedWithin(c: RawConnection, ms: number) {
  return Promise.race([
    c.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms).unref()),
  ]);
}

const LIMITS = { headersTimeoutMs: 1_000, bodyIdleTimeoutMs: 1_000, requestTimeoutMs: 5_000, keepAliveTimeoutMs: 1_000, maxConnectionsPerAddress: 20 };

describe('request deadlines and connection bounds', () => {
  let s: TestServer;
  let sid: string;

  beforeAll(async () => {
    s = await startTestServer({ limits: LIMITS });
    sid = await s.login();
  });

  afterAll(async () => {
    await s?.stop();
  });

  it('documents defaults of seconds, not minutes', () => {
    expect(DEFAULT_HTTP_LIMITS.bodyIdleTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(DEFAULT_HTTP_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs).toBeLessThanOrEqual(10_000);
  });

  it.each([
    ['the public login route', 'POST /api/endeavour/session', {}],
    ['an authenticated route', 'POST /api/identity/user', { sid: true }],
  ])('cuts a body that stops arriving on %s with 408 in SPP shape', async (_name, line, o) => {
    const c = await connect(s.url);
    c.socket.write(`${line} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n` +
      `${'sid' in o ? `X-Endeavour-Sessionid: ${sid}\r\n` : 'Authorization: Basic YWRtaW46eA==\r\n'}\r\n{"name":"x`);
    const { text, afterMs } = await closedWithin(c, 8_000);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ id: 'XSBRequestTimeoutException', description: expect.any(String) });
    expect(afterMs).toBeGreaterThanOrEqual(LIMITS.bodyIdleTimeoutMs - 100);
  });

  it('cuts headers that stop arriving with 408', async () => {
    const c = await connect(s.url);
    c.socket.write('GET /api/endeavour/job HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const { text } = await closedWithin(c, 8_000);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('XSBRequestTimeoutException');
  });

  it('closes an idle keep-alive connection after its timeout', async () => {
    const c = await connect(s.url);
    c.socket.write(`GET /api/lifecycle/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const { text } = await closedWithin(c, 8_000);
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('keeps the connection after answers to bodiless requests, and closes it after one refused before its body was read', async () => {
    const c = await connect(s.url);
    // Answered before Node has seen the request's end (a public route with nothing to await),
    // then a POST refused with no body at all: neither leaves anything unread.
    c.socket.write(`GET /api/docs/json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n` +
      `POST /api/endeavour/job/1004?action=start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n` +
      `GET /api/lifecycle/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const { text } = await closedWithin(c, 8_000);
    expect(text.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 401', 'HTTP/1.1 200']);
    expect(text).not.toMatch(/^connection: close/im);
    // A body announced and refused before it was read: the connection ends after the answer.
    const d = await connect(s.url);
    d.socket.write(`POST /api/endeavour/job/1004?action=start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n`);
    const refused = await closedWithin(d, 8_000);
    expect(refused.text).toMatch(/^HTTP\/1\.1 401 /);
    expect(refused.text).toMatch(/^connection: close/im);
  });

  it('refuses connections beyond the per-address bound, and keeps serving other addresses', async () => {
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnectionsPerAddress }, () => connect(s.url, '127.0.0.3')));
    try {
      // Keep them busy past the keep-alive timeout: a request line that never ends its headers
      // would be cut by the header deadline, so these are simply open TLS connections.
      const extra = connect(s.url, '127.0.0.3').then(
        (c) => closedWithin(c, 5_000).then(() => 'closed'),
        () => 'refused',
      );
      expect(await extra).toMatch(/closed|refused/);
      const ping = await rawRequest(s.url, 'GET', '/api/lifecycle/ping');
      expect(ping.status).toBe(200);
    } finally {
      for (const c of held) c.socket.destroy();
    }
  });

  it('serves normal clients while 2,000 idle connections from other addresses are open', async () => {
    const held: RawConnection[] = [];
    try {
      for (let a = 0; a < 100; a++) {
        held.push(...(await Promise.all(Array.from({ length: 20 }, () => connect(s.url, `127.0.${10 + Math.floor(a / 250)}.${(a % 250) + 1}`)))));
      }
      expect(held.length).toBe(2_000);
      const r = await s.req('GET', '/api/endeavour/job/1004', { sid });
      expect(r.status).toBe(200);
    } finally {
      for (const c of held) c.socket.destroy();
    }
  });
});

describe('bodies and headers', () => {
  let s: TestServer;
  let sid: string;

  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
  });

  afterAll(async () => {
    await s?.stop();
  });

  it.each([
    ['POST', '/ngp/appserver'],
    ['PUT', '/api/endeavour/job/1004/trigger'],
    ['POST', '/api/endeavour/session'],
  ])('refuses JSON nested 100,000 levels deep in %s %s with a 400', async (method, path) => {
    for (const [open, close] of [['[', ']'], ['{"a":', '}']]) {
      const raw = open!.repeat(100_000) + '1' + close!.repeat(100_000);
      const r = await s.req(method, path, { sid, raw });
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.json).toMatchObject({ id: 'XSBInvalidArgumentException', description: expect.stringContaining('nests deeper') });
    }
    // Nesting inside strings is only text.
    const ok = await s.req('POST', '/api/identity/user', { sid, body: { name: `deep-${method}-${path.length}`, username: 'u', password: '['.repeat(1000) } });
    expect(ok.status).toBe(201);
  });

  it('puts nosniff, no-store and HSTS on API answers, and forbids framing of every HTML page', async () => {
    const api = await s.req('GET', '/api/endeavour/job', { sid });
    expect(api.headers['x-content-type-options']).toBe('nosniff');
    expect(api.headers['cache-control']).toBe('no-store');
    expect(api.headers['strict-transport-security']).toMatch(/max-age=\d{7,}/);
    const err = await s.req('GET', '/api/endeavour/job');
    expect(err.status).toBe(401);
    expect(err.headers['cache-control']).toBe('no-store');
    for (const path of ['/api/docs', '/api/docs/', '/', '/jobs']) {
      const page = await s.req('GET', path, { exactHeaders: true });
      expect(page.status, path).toBe(200);
      expect(page.headers['content-type'], path).toMatch(/text\/html/);
      expect(page.headers['content-security-policy'], path).toMatch(/frame-ancestors 'none'/);
      expect(page.headers['x-frame-options'], path).toBe('DENY');
    }
  });

  it('answers what the HTTP parser refuses in SPP shape', async () => {
    const c = await connect(s.url);
    c.socket.write('GET /api/endeavour/job HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Name: x\r\n\r\n');
    const { text } = await closedWithin(c, 5_000);
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ id: 'XSBInvalidArgumentException' });
  });
});
