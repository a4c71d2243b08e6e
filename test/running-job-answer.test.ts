/**
 * A running job's GET and status GET are kept while nothing is written (api/jobs.ts), with only
 * lastrun.duration made per request: under a fake clock the kept answer must move with the clock
 * exactly as a freshly read one would, and become the ended session's at the next write, which no longer moves.
 * The PostgreSQL collector is a stand-in that waits for the test (no server is needed to hold a
 * session open); everything else is the real server on the embedded default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorRegistry } from '../src/collectors/registry.ts';
import type { Collector } from '../src/collectors/types.ts';
import { FakeClock } from '../src/core/clock.ts';
import { startTestServer, waitFor, type Reply, type TestServer } from './support/server.ts';

let release: () => void = () => {};
const gate = new Promise<void>((resolve) => (release = resolve));
const real = collectorRegistry().get('postgresql')!;
const standIn: Collector = {
  ...real,
  async collect(target) {
    await gate;
    return { instances: [{ name: `${target.host}:${target.port}`, host: target.host, port: target.port ?? 5432, version: '16.4', properties: {}, databases: [] }], warnings: [] };
  },
  async test() {
    return [];
  },
};

/** The answer without the one field that may differ between two reads. */
const withoutDuration = (r: Reply) => ({ ...r.json, lastrun: { ...r.json.lastrun, duration: null } });

describe('a running job\'s kept answer', () => {
  const clock = new FakeClock(Date.UTC(2026, 5, 1, 12));
  let s: TestServer;
  let sid: string;

  beforeAll(async () => {
    s = await startTestServer({ clock, collectors: collectorRegistry([...[...collectorRegistry().values()].filter((c) => c.info.type !== 'postgresql'), standIn]) });
    sid = await s.login();
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'pg', username: 'u', password: 'p' } });
    expect(ident.status, ident.text).toBe(201);
    const reg = await s.req('POST', '/api/appserver?inventory=false', {
      sid, body: { name: 'held', hostAddress: '127.0.0.1', portNumber: 5999, applicationType: 'postgresql', osuser: { href: ident.json.links.self.href } },
    });
    expect(reg.status, reg.text).toBe(201);
  });

  afterAll(async () => {
    release();
    await s?.stop();
  });

  it('moves lastrun.duration with the clock, and stops once the session ends', async () => {
    const job = () => s.req('GET', '/api/endeavour/job/1004', { sid });
    const status = () => s.req('GET', '/api/endeavour/job/1004/status', { sid });
    const started = await s.req('POST', '/api/endeavour/job/1004?action=start', { sid });
    expect(started.status, started.text).toBe(200);
    const sessionId = started.json.lastrun.sessionId as string;
    // The task is under way (it waits at the gate): from here nothing is written until it ends.
    await waitFor(async () => {
      const t = await s.req('GET', `/api/endeavour/jobsession/${sessionId}/task`, { sid });
      return t.json.tasks?.[0]?.status === 'RUNNING' ? true : undefined;
    }, 'the task to run');

    const first = await job();
    expect(first.json.status).toBe('RUNNING');
    expect(first.json.lastrun).toMatchObject({ sessionId, status: 'RUNNING' });
    const since = first.json.lastrun.duration as number;
    expect(since).toBe(clock.now() - (first.json.lastrun.start as number));
    clock.advance(7_250);
    const later = await job();
    expect(later.json.lastrun.duration).toBe(since + 7_250);
    expect(withoutDuration(later)).toEqual(withoutDuration(first));
    const st = await status();
    expect(st.json).toMatchObject({ currentStatus: 'RUNNING', id: '1004', lastrun: { sessionId, duration: since + 7_250 } });
    clock.advance(1_000);
    expect((await status()).json.lastrun.duration).toBe(since + 8_250);

    // The task's end is the next write: the answer after it is the ended session's, which stays put.
    release();
    const ended = await waitFor(async () => {
      const r = await job();
      return r.json.status === 'IDLE' && r.json.lastrun.sessionId === sessionId ? r : undefined;
    }, 'the session to end');
    expect(ended.json.lastrun.status).toBe('COMPLETED');
    const final = ended.json.lastrun.duration as number;
    expect(ended.json.lastSessionDuration).toBe(final);
    clock.advance(60_000);
    expect((await job()).json.lastrun.duration).toBe(final);
    expect((await status()).json.lastrun.duration).toBe(final);
  });
});
