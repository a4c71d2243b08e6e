/**
 * How src/api/web.ts serves the UI, without a browser: a build folder made here, and none at all.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webRoutes } from '../../src/api/web.ts';

describe('serving the web UI', () => {
  let dir: string;
  let built: FastifyInstance;
  let unbuilt: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'census-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="/assets/index-abc123.js"></script>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    built = Fastify();
    built.get('/api/endeavour/job', async () => ({ jobs: [] }));
    webRoutes(built, dir);
    await built.ready();
    unbuilt = Fastify();
    webRoutes(unbuilt, join(dir, 'no-such-build'));
    await unbuilt.ready();
  });

  afterAll(async () => {
    await built?.close();
    await unbuilt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers / and every page path with index.html, never cached', async () => {
    for (const url of ['/', '/index.html', '/jobs', '/jobs/sessions/1795785519746', '/alerts?status=all', '/manage-protection/databases/postgresql?x=1', '/login?next=%2Fjobs']) {
      const r = await built.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type'], url).toMatch(/^text\/html/);
      expect(r.headers['cache-control'], url).toBe('no-cache');
      expect(r.headers['content-security-policy'], url).toContain("default-src 'self'");
      expect(r.body, url).toContain('<div id="root">');
    }
  });

  it('serves hashed assets for a year, other files for an hour, and 404s for missing build files', async () => {
    const js = await built.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const icon = await built.inject({ method: 'GET', url: '/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['cache-control']).toBe('public, max-age=3600');
    expect((await built.inject({ method: 'GET', url: '/assets/index-gone.js' })).statusCode).toBe(404);
    expect((await built.inject({ method: 'HEAD', url: '/jobs' })).statusCode).toBe(200);
  });

  it('leaves /api and /ngp to the API: its routes, and its 404 for paths it does not have', async () => {
    expect((await built.inject({ method: 'GET', url: '/api/endeavour/job' })).json()).toEqual({ jobs: [] });
    for (const url of ['/api/nothing', '/ngp/nothing', '/api']) {
      const r = await built.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
      expect(r.body, url).not.toContain('<div id="root">');
    }
  });

  it('never serves a file outside the build folder', async () => {
    writeFileSync(join(dir, '..', 'census-web-secret.txt'), 'content-outside-the-build');
    try {
      for (const url of ['/../census-web-secret.txt', '/%2e%2e/census-web-secret.txt', '/assets/%2e%2e/%2e%2e/census-web-secret.txt', '/%00']) {
        const r = await built.inject({ method: 'GET', url });
        expect(r.body, url).not.toContain('content-outside-the-build');
      }
    } finally {
      rmSync(join(dir, '..', 'census-web-secret.txt'), { force: true });
    }
  });

  it('without a build, says how to build it instead of failing', async () => {
    const r = await unbuilt.inject({ method: 'GET', url: '/' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('npm run build');
    expect((await unbuilt.inject({ method: 'GET', url: '/jobs' })).body).toContain('npm run build');
    expect((await unbuilt.inject({ method: 'GET', url: '/api/x' })).statusCode).toBe(404);
  });
});
