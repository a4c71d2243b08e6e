/**
 * Nothing lost, nothing doubled (issue 13, point 4): real `census server` processes, a real HTTP
 * receiver in this process. Deliveries are pending in every state a crash can find them — the
 * receiver holds some requests unanswered (their tasks RUNNING, deliveries QUEUED) and refused
 * others (PENDING, retry due later) — when the process is SIGKILLed. After the restart every event
 * reaches the receiver, and each is answered 2xx exactly once: a receiver that keeps the event ids
 * it accepted sees each event once. Raw repeats (a held request sent again after the crash, a
 * refused one retried) carry the same event id; the test reports how many there were.
 *
 * On SQLite one process is killed and started again; on PostgreSQL a server and a worker share the
 * database, the server is killed, and the worker (or the restarted server) finishes the work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnCensus, type CensusProcess } from './support/processes.ts';
import { ADMIN_PASSWORD, request, waitFor } from './support/server.ts';
import { scratchDatabase } from './support/stores.ts';
import { startReceiver, type Receiver } from './support/webhook-receiver.ts';

const SERVERS = 6;

describe.each([
  { dialect: 'sqlite' as const },
  { dialect: 'postgres' as const },
])('deliveries pending when a process is SIGKILLed ($dialect)', ({ dialect }) => {
  const procs: CensusProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), `census-delivery-crash-${dialect}-`));
  const database = dialect === 'postgres' ? scratchDatabase('census_dcrash') : undefined;
  let receiver: Receiver | undefined;

  afterEach(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    await receiver?.close();
  });
  afterAll(async () => {
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // A 1 s first back-off: the refused deliveries come due again soon after the restart.
  // The processes stand for workers on separate machines: none holds back for sharing this one's CPUs.
  const common = ['--data-dir', dataDir, '--delivery-retry', '1', '--shared-cpu', '100', ...(database ? ['--database', database.url] : [])];
  const env = { CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const startServer = async () => {
    const p = spawnCensus('server', [...common, '--port', '0', ...(database ? ['--with-worker'] : [])], env);
    procs.push(p);
    return { p, url: await p.started };
  };

  it('delivers every event after the restart, each accepted once', async () => {
    await database?.create();
    let accepting = false;
    // Before the crash: the first two requests are refused (PENDING, retried later), the rest held.
    receiver = await startReceiver((n) => (accepting ? { status: 200, body: 'ok' } : n < 2 ? { status: 503, body: 'busy' } : 'hold'));
    const first = await startServer();
    if (database) {
      const worker = spawnCensus('worker', [...common, '--concurrency', '4'], env);
      procs.push(worker);
      await worker.started;
    }
    const url = first.url;
    const sid = (await request(url, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } })).json.sessionid as string;
    const hook = await request(url, 'POST', '/api/census/webhook', { sid, body: { url: receiver.url, events: ['server.registered'] } });
    expect(hook.status, hook.text).toBe(201);
    const body = Array.from({ length: SERVERS }, (_, i) => ({
      name: `crash-${i + 1}`, hostAddress: '127.0.0.1', portNumber: 20_001 + i, applicationType: 'postgresql', username: 'nobody', password: 'nothing',
    }));
    const reg = await request(url, 'POST', '/api/appserver?inventory=false', { sid, body });
    expect(reg.status, reg.text).toBe(201);

    // Every delivery was tried once: two refused, the others waiting for an answer.
    await receiver.waitFor(SERVERS, 60_000);
    expect(receiver.held()).toBe(SERVERS - 2);
    await first.p.kill('SIGKILL');
    receiver.release(503); // their connections died with the process; nothing is answered 2xx
    accepting = true;

    const again = await startServer();
    const expected = new Set((await waitFor(async () => {
      const r = await request(again.url, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } });
      const list = await request(again.url, 'GET', '/api/census/delivery?pageSize=1000', { headers: { 'X-Endeavour-Sessionid': r.json.sessionid } });
      const deliveries = list.json.deliveries as { eventId: string; status: string }[];
      return deliveries.length === SERVERS && deliveries.every((d) => d.status === 'DELIVERED') ? deliveries : undefined;
    }, 'every delivery to be DELIVERED after the restart', 90_000)).map((d) => d.eventId));
    expect(expected.size).toBe(SERVERS);

    // What the receiver saw: every event, each accepted (2xx) exactly once.
    const accepted = new Map<string, number>();
    const seen = new Map<string, number>();
    receiver.received.forEach((r, n) => {
      const id = String(r.headers['x-census-event-id']);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      const before = n < SERVERS; // answered 503 or held until the crash
      if (!before) accepted.set(id, (accepted.get(id) ?? 0) + 1);
    });
    expect(new Set(seen.keys())).toEqual(expected);
    expect([...accepted.entries()].sort()).toEqual([...expected].sort().map((id) => [id, 1]));
    const repeats = receiver.received.length - seen.size;
    console.log(`${dialect}: ${receiver.received.length} requests for ${seen.size} events (${repeats} raw repeats, each with an event id the receiver had seen); every event accepted once`);
    expect(repeats).toBeGreaterThanOrEqual(SERVERS); // each was tried before the crash and again after it
  }, 240_000);
});
