/**
 * The live event stream (GET /api/endeavour/events) over real HTTPS, read as raw Server-Sent
 * Events with node:https: a real inventory seen from start to end, a forced disconnect resumed
 * with Last-Event-ID without loss or repeats, filters, authentication, clean-up, reset, and the
 * stream ending when the server stops. Then the journal itself on both dialects: concurrent
 * writers (two "processes" on one database) read back by the streaming query without gaps, and
 * pruning by maintenance.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { systemClock } from '../src/core/clock.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { Engine } from '../src/engine/engine.ts';
import { InProcessQueue } from '../src/engine/queue.ts';
import { MAINTENANCE_JOB_ID } from '../src/engine/system-jobs.ts';
import { startWorker, type Worker } from '../src/main.ts';
import { Store } from '../src/store/index.ts';
import type { StoredEvent } from '../src/store/events.ts';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';
import { silentListener, type SilentListener } from './support/silent-listener.ts';
import { createPgSchema, DIALECTS, PG_URL } from './support/stores.ts';

interface SseEvent {
  id: string | undefined;
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/** A raw SSE reader on one HTTPS response. */
class SseClient {
  events: SseEvent[] = [];
  comments: string[] = [];
  retry: number | undefined;
  ended = false;
  private buffer = '';
  private ending: Promise<void>;

  private constructor(
    readonly res: IncomingMessage,
    private readonly req: ReturnType<typeof https.request>,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    this.ending = new Promise((resolve) => {
      const done = () => {
        this.ended = true;
        resolve();
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
  }

  static open(base: string, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      // No shared agent: destroying this socket must not touch anyone else's.
      const req = https.request(new URL(base + path), { method: 'GET', headers: { Accept: 'text/event-stream', ...headers }, agent: false, rejectUnauthorized: false });
      req.on('response', (res) => resolve(new SseClient(res, req)));
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    for (let i = this.buffer.indexOf('\n\n'); i >= 0; i = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments.push(line.slice(1).trim());
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'retry') this.retry = Number(value);
      }
      if (data.length) this.events.push({ id, event, data: JSON.parse(data.join('\n')) });
      else if (id !== undefined) this.openingId ??= id;
    }
  }

  /** The id of the first block with an id and no data: where the server says the stream starts. */
  openingId: string | undefined;

  /** The last id the client got (what a browser would send back as Last-Event-ID). */
  get lastId(): string | undefined {
    return [...this.events].reverse().find((e) => e.id !== undefined)?.id;
  }

  async until(pred: (e: SseEvent) => boolean, what: string, timeoutMs = 20_000): Promise<SseEvent> {
    return waitFor(async () => this.events.find(pred), what, timeoutMs);
  }

  destroy(): void {
    this.req.destroy();
    this.res.destroy();
  }

  async text(): Promise<string> {
    await this.ending;
    return this.buffer;
  }

  closed(timeoutMs = 10_000): Promise<void> {
    return Promise.race([
      this.ending,
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error('stream did not close')), timeoutMs).unref()),
    ]);
  }
}

const sessionOf = (e: SseEvent): string | undefined => e.data?.sessionId ?? undefined;

describe('GET /api/endeavour/events', () => {
  let srv: TestServer;
  let sid = '';
  let hang: SilentListener;
  const clients: SseClient[] = [];
  const open = async (path: string, headers: Record<string, string> = {}, withSession = true) => {
    const c = await SseClient.open(srv.url, path, withSession ? { 'X-Endeavour-Sessionid': sid, ...headers } : headers);
    clients.push(c);
    return c;
  };

  /** Starts the inventory and returns its session id. */
  async function runInventory(): Promise<string> {
    const r = await srv.req('POST', '/api/endeavour/job/1004?action=start', { sid });
    expect(r.status).toBe(200);
    return String(r.json.lastrun.sessionId);
  }
  const waitEnded = (sessionId: string) =>
    waitFor(async () => {
      const s = await srv.req('GET', `/api/endeavour/jobsession/${sessionId}`, { sid });
      return ['RUNNING', 'CANCELLING'].includes(s.json.status) ? undefined : s.json.status as string;
    }, `session ${sessionId} to end`);
  const stored = async (sessionId: string): Promise<StoredEvent[]> => srv.census.store.events.after(0, { sessionId: Number(sessionId) }, 100_000);

  beforeAll(async () => {
    hang = await silentListener();
    // The silent server holds each run open until its task's deadline: time to disconnect mid-run.
    srv = await startTestServer({ taskTimeoutMs: 1500 });
    sid = await srv.login();
    const port = inject('pgAuthPort');
    const ident = await srv.req('POST', '/api/identity/user', { sid, body: { name: 'pg', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS } });
    expect(ident.status, ident.text).toBe(201);
    for (const [name, p] of [['good', port], ['slow', hang.port]] as const) {
      const r = await srv.req('POST', '/api/appserver', {
        sid, body: { name, hostAddress: '127.0.0.1', portNumber: p, applicationType: 'postgresql', osuser: { href: ident.json.links.self.href } },
      });
      expect(r.status, r.text).toBe(201);
    }
  });

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await srv?.stop();
    await hang?.close();
  });

  it('streams a session from start to end: started, log entries, ended, with increasing ids', async () => {
    const c = await open('/api/endeavour/events');
    expect(c.status).toBe(200);
    expect(c.res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(c.res.headers['cache-control']).toContain('no-cache');
    const sessionId = await runInventory();
    await c.until((e) => e.event === 'session.ended' && sessionOf(e) === sessionId, 'session.ended');
    await c.until((e) => e.event === 'job.status' && e.data.jobId === '1004' && e.data.status === 'IDLE', 'job IDLE');

    const ids = c.events.map((e) => Number(e.id));
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    const mine = c.events.filter((e) => sessionOf(e) === sessionId);
    const kinds = mine.map((e) => e.event);
    const started = kinds.indexOf('session.started');
    const ended = kinds.indexOf('session.ended');
    expect(started).toBe(0); // it started after we connected: nothing of it before
    expect(ended).toBeGreaterThan(started);
    const logs = mine.filter((e) => e.event === 'log');
    expect(logs.length).toBeGreaterThanOrEqual(4);
    for (const l of logs) expect(kinds.indexOf('log')).toBeGreaterThan(started);
    // The summary is in the stream before the end: a follower that stops at session.ended has it.
    expect(kinds.lastIndexOf('log')).toBeLessThan(ended);
    expect(logs.at(-1)!.data.messageId).toBe('CNSJ0010');
    // Log entries in SPP's wire shape, links included.
    expect(logs[0]!.data).toMatchObject({ jobsessionId: Number(sessionId), sessionId, jobId: '1004', type: 'INFO', messageId: 'CNSJ0001' });
    expect(logs[0]!.data.links.self.href).toMatch(new RegExp(`^${srv.url}/api/endeavour/log/job/[0-9a-f]{24}$`));
    expect(mine[ended]!.data).toMatchObject({ sessionId, jobId: '1004', status: 'PARTIAL', percent: 100, numTasks: 2 });
    // Tasks: each went RUNNING, then ended; the job went RUNNING, then IDLE.
    const tasks = mine.filter((e) => e.event === 'task.updated').map((e) => `${e.data.name}:${e.data.status}`);
    expect(tasks).toEqual(expect.arrayContaining(['good:RUNNING', 'good:COMPLETED', 'slow:RUNNING', 'slow:FAILED']));
    const job = c.events.filter((e) => e.event === 'job.status' && e.data.sessionId === sessionId).map((e) => e.data.status);
    expect(job).toEqual(['RUNNING', 'IDLE']);
    // What the stream carried is exactly what the journal holds for the session.
    expect(mine.map((e) => Number(e.id))).toEqual((await stored(sessionId)).map((e) => e.seq));
    expect(c.retry).toBeGreaterThan(0);
  });

  it('resumes after a forced disconnect with Last-Event-ID: nothing lost, nothing repeated', async () => {
    const first = await open('/api/endeavour/events');
    const sessionId = await runInventory();
    await first.until((e) => e.event === 'log' && sessionOf(e) === sessionId && e.data.messageId === 'CNSI0100', 'a task log entry');
    first.destroy(); // the connection drops mid-run
    const before = first.events.filter((e) => sessionOf(e) === sessionId);
    const lastId = first.lastId!;
    expect((await srv.req('GET', `/api/endeavour/jobsession/${sessionId}`, { sid })).json.status).toBe('RUNNING');
    // Let events happen while nobody listens, then come back as a browser would.
    await waitFor(async () => ((await stored(sessionId)).at(-1)!.seq > Number(lastId) + 2 ? true : undefined), 'more events');
    const second = await open('/api/endeavour/events', { 'Last-Event-ID': lastId });
    await second.until((e) => e.event === 'session.ended' && sessionOf(e) === sessionId, 'session.ended after resuming', 20_000);
    await waitEnded(sessionId);

    const after = second.events.filter((e) => sessionOf(e) === sessionId);
    expect(after.length).toBeGreaterThan(0);
    expect(Number(second.events[0]!.id)).toBeGreaterThan(Number(lastId));
    const union = [...before, ...after].map((e) => Number(e.id));
    expect(new Set(union).size).toBe(union.length); // no repeats
    expect(union).toEqual((await stored(sessionId)).map((e) => e.seq)); // no loss, in order
    expect(second.events.some((e) => e.event === 'reset')).toBe(false);
    // ?lastEventId= works the same (for clients that build the URL themselves).
    const third = await open(`/api/endeavour/events?lastEventId=${lastId}&sessionId=${sessionId}`);
    await third.until((e) => e.event === 'session.ended', 'replayed end');
    expect(third.events.map((e) => Number(e.id))).toEqual(after.map((e) => Number(e.id)));
  });

  it('opens with the id it starts from: a client dropped before its first event resumes there and misses nothing', async () => {
    const before = await srv.census.store.events.latest();
    const first = await open('/api/endeavour/events');
    const opening = await waitFor(async () => first.openingId, 'the opening id');
    expect(first.events).toEqual([]);
    expect(Number(opening)).toBeGreaterThanOrEqual(before);
    expect(Number(opening)).toBeLessThanOrEqual(await srv.census.store.events.latest());
    first.destroy(); // dropped before any event: all it has is the opening id
    const sessionId = await runInventory();
    await waitEnded(sessionId);
    const second = await open(`/api/endeavour/events?sessionId=${sessionId}`, { 'Last-Event-ID': opening });
    await second.until((e) => e.event === 'session.ended', 'session.ended after resuming from the opening id');
    // The whole session, from its start: what happened while nobody listened is all there.
    expect(second.events.map((e) => Number(e.id))).toEqual((await stored(sessionId)).map((e) => e.seq));
    expect(second.events[0]!.event).toBe('session.started');
  });

  it('filters by session, job and type', async () => {
    const all = await srv.census.store.events.after(0, {}, 100_000);
    const someSession = String(all.find((e) => e.type === 'session.ended' && e.jobId === 1004)!.sessionId);
    const replay = (query: string) => open(`/api/endeavour/events?lastEventId=0&${query}`);

    const logs = await replay(`sessionId=${someSession}&types=log`);
    await logs.until((e) => e.data.messageId === 'CNSJ0010', 'the summary');
    expect(new Set(logs.events.map((e) => e.event))).toEqual(new Set(['log']));
    expect(logs.events.every((e) => e.data.sessionId === someSession)).toBe(true);
    expect(logs.events.length).toBe(all.filter((e) => e.type === 'log' && String(e.sessionId) === someSession).length);

    const sessions = await replay('types=session,job.status&jobId=1004');
    await sessions.until((e) => e.event === 'session.ended' && sessionOf(e) === someSession, 'its end');
    expect(new Set(sessions.events.map((e) => e.event))).toEqual(new Set(['session.started', 'session.updated', 'session.ended', 'job.status']));
    expect(sessions.events.every((e) => e.data.jobId === '1004')).toBe(true);

    const maintenance = await replay('jobId=1001&types=session.ended');
    await maintenance.until((e) => e.event === 'session.ended', 'the first-start maintenance run');
    expect(maintenance.events.every((e) => e.event === 'session.ended' && e.data.jobId === '1001')).toBe(true);

    for (const bad of ['types=frobnicate', 'jobId=abc', 'lastEventId=x']) {
      const r = await srv.req('GET', `/api/endeavour/events?${bad}`, { sid });
      expect(r.status, bad).toBe(400);
      expect(r.json.id).toBe('XSBInvalidArgumentException');
    }
    const h = await srv.req('GET', '/api/endeavour/events', { sid, headers: { 'Last-Event-ID': 'nope' } });
    expect(h.status).toBe(400);
  });

  it('needs the login session: 401 without it, and takes it as ?esessionid= (EventSource) on this route only', async () => {
    const none = await srv.req('GET', '/api/endeavour/events');
    expect(none.status).toBe(401);
    expect(none.json.id).toBe('XSBMissingSessionidException');
    const wrong = await srv.req('GET', '/api/endeavour/events?esessionid=nope');
    expect(wrong.status).toBe(401);
    const c = await open(`/api/endeavour/events?esessionid=${sid}`, {}, false);
    expect(c.status).toBe(200);
    expect(c.res.headers['content-type']).toMatch(/^text\/event-stream/);
    // Other routes still want the header.
    expect((await srv.req('GET', `/api/endeavour/job?esessionid=${sid}`)).status).toBe(401);
  });

  it('cleans up when clients go away: no connection left, no poller running', async () => {
    const a = await open('/api/endeavour/events');
    const b = await open('/api/endeavour/events?types=log');
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(srv.census.app.eventStreams.stats().polling).toBe(true);
    const head = await srv.req('HEAD', '/api/endeavour/events', { sid });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toMatch(/^text\/event-stream/);
    for (const c of clients) c.destroy();
    await waitFor(async () => {
      const s = srv.census.app.eventStreams.stats();
      return s.connections === 0 && !s.polling ? s : undefined;
    }, 'every stream to be cleaned up', 5_000);
  });

  it('says reset when asked to resume from before what is kept, or from an id it never gave', async () => {
    const latest = await srv.census.store.events.latest();
    const future = await open(`/api/endeavour/events`, { 'Last-Event-ID': String(latest + 1000) });
    const r1 = await future.until((e) => e.event === 'reset', 'reset');
    expect(r1.data).toMatchObject({ reason: 'unknown', lastEventId: String(latest + 1000) });
    expect(Number(r1.id)).toBe(latest);

    const removed = await srv.census.store.events.prune(Date.now() + 1);
    expect(removed).toBe(latest - 1); // everything but the newest event
    expect(await srv.census.store.events.oldest()).toBe(latest);
    const old = await open('/api/endeavour/events', { 'Last-Event-ID': '1' });
    const r2 = await old.until((e) => e.event === 'reset', 'reset');
    expect(r2.data).toMatchObject({ reason: 'expired', lastEventId: '1', oldest: String(latest) });
    expect(old.events[0]!.event).toBe('reset');
    // Resuming right before the oldest kept event is fine: no reset, the kept event comes.
    const fine = await open('/api/endeavour/events', { 'Last-Event-ID': String(latest - 1) });
    await fine.until((e) => Number(e.id) === latest, 'the newest event');
    expect(fine.events.some((e) => e.event === 'reset')).toBe(false);
  });
});

describe('event stream and server shutdown', () => {
  it('ends open streams when the server stops, and the stop does not wait for clients', async () => {
    const srv = await startTestServer();
    const sid = await srv.login();
    const c = await SseClient.open(srv.url, '/api/endeavour/events', { 'X-Endeavour-Sessionid': sid });
    expect(c.status).toBe(200);
    const t0 = Date.now();
    await srv.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    await c.closed();
    expect(c.ended).toBe(true);
    expect(srv.census.app.eventStreams.stats()).toEqual({ connections: 0, polling: false });
  });
});

describe('event stream on PostgreSQL, with the work done by a separate worker', () => {
  it('streams the events a worker writes (another Store, another pool): found by polling the journal', async () => {
    const { schema, drop } = await createPgSchema();
    let srv: TestServer | undefined;
    let worker: Worker | undefined;
    try {
      // The API server runs no tasks on PostgreSQL; the worker shares its data dir (the secret key).
      srv = await startTestServer({ database: PG_URL, schema });
      worker = await startWorker({ dataDir: srv.dataDir, database: PG_URL, schema, taskTimeoutMs: 10_000, retries: 0 });
      const sid = await srv.login();
      const c = await SseClient.open(srv.url, '/api/endeavour/events?lastEventId=0&types=session,job', { 'X-Endeavour-Sessionid': sid });
      try {
        // The first-start runs, queued by the server and run by the worker.
        await c.until((e) => e.event === 'session.ended' && e.data.jobId === '1004', 'the first-start inventory to end', 30_000);
        const r = await srv.req('POST', '/api/endeavour/job/1001?action=start', { sid });
        const sessionId = String(r.json.lastrun.sessionId);
        const end = await c.until((e) => e.event === 'session.ended' && sessionOf(e) === sessionId, 'the maintenance run to end', 30_000);
        expect(end.data.status).toBe('COMPLETED');
        const ids = c.events.map((e) => Number(e.id));
        expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
        const journal = await srv.census.store.events.after(0, { types: ['session.started', 'session.updated', 'session.ended', 'job.status'] }, 100_000);
        expect(ids).toEqual(journal.map((e) => e.seq).filter((seq) => seq <= ids.at(-1)!));
      } finally {
        c.destroy();
      }
    } finally {
      await worker?.stop();
      await srv?.stop();
      await drop();
    }
  });
});

const secrets = SecretBox.fromKey(Buffer.alloc(32, 7));

describe.each(DIALECTS)('event journal on %s', (_name, openStore) => {
  it('reads back events of concurrent writers in two processes in order, without gaps or repeats', async () => {
    const t = await openStore();
    // On PostgreSQL a second "process": its own Store (own connection pool) on the same database.
    // (SQLite has one process by design: its writers are the transactions of that one.)
    const other = t.store.dialect === 'postgres' ? await Store.open({ url: t.url, ...(t.schema ? { schema: t.schema } : {}) }) : undefined;
    try {
      const writers = other ? [t.store, other] : [t.store];
      let writing = true;
      const seen: number[] = [];
      const odd: number[] = [];
      // The stream's query, unfiltered; and filtered (odd sessions) with the horizon skip the stream uses.
      const reader = (async () => {
        let last = 0;
        let lastOdd = 0;
        for (;;) {
          const done = !writing;
          const horizon = await t.store.events.latest();
          for (const e of await t.store.events.after(last, {}, 1000)) {
            seen.push(e.seq);
            last = e.seq;
          }
          const rows = await t.store.events.after(lastOdd, { sessionId: 1 }, 1000);
          for (const e of rows) {
            odd.push(e.seq);
            lastOdd = e.seq;
          }
          if (rows.length < 1000 && horizon > lastOdd) lastOdd = horizon;
          if (done) break;
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      // 10 transactions at once, in both processes, each holding its events a random while
      // before it commits: on PostgreSQL without the ordering lock a later seq would commit first.
      await Promise.all(Array.from({ length: 10 }, (_, i) => (async () => {
        for (let round = 0; round < 5; round++) {
          await writers[i % writers.length]!.transaction(async (r) => {
            await r.events.add(
              ...Array.from({ length: 3 }, (_, k) => ({ type: 'log' as const, jobId: 1004, sessionId: (i + k) % 2, data: { i, round, k } })),
            );
            // Half write their events (lock and seq drawn) at once and wait holding them, as a
            // long end would; half leave them to the commit, which sends lock, INSERT and COMMIT in one.
            if (round % 2 === 0) for (const q of r.events.takeInserts().statements) await r.executeSql(q.sql, q.parameters);
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 15));
          });
        }
      })())).finally(() => (writing = false));
      await reader;
      const all = (await t.store.events.after(0, {}, 100_000)).map((e) => e.seq);
      expect(all).toHaveLength(150);
      expect(seen).toEqual(all);
      expect(odd).toEqual((await t.store.events.after(0, { sessionId: 1 }, 100_000)).map((e) => e.seq));
    } finally {
      await other?.close();
      await t.cleanup();
    }
  });

  it('writes events only when their transaction commits', async () => {
    const t = await openStore();
    try {
      await expect(t.store.transaction(async (r) => {
        await r.events.add({ type: 'log', jobId: 1, sessionId: 1, data: {} });
        throw new Error('roll back');
      })).rejects.toThrow('roll back');
      expect(await t.store.events.latest()).toBe(0);
      let woken = 0;
      const off = t.store.onEventsCommitted(() => woken++);
      await t.store.events.add({ type: 'log', jobId: 1, sessionId: 1, data: { a: 1 } }); // outside a transaction: one of its own
      off();
      expect(woken).toBe(1);
      expect((await t.store.events.after(0)).map((e) => e.data)).toEqual([{ a: 1 }]);
      // Job status changes carry their event wherever they are made.
      await t.store.jobs.ensure({
        id: 1004, name: 'Inventory', description: null, policyId: 1004, policyName: 'x', type: 'catalog', subType: 'application',
        serviceId: 's', held: false, runningSessionId: null, lastSessionId: null, triggerId: null, schedule: null, nextFireTime: null, options: {},
      });
      await t.store.jobs.setHeld(1004, true);
      await t.store.jobs.setHeld(1004, true); // no change, no event
      await t.store.jobs.claimRun(1004, 7);
      await t.store.jobs.finishRun(1004, 7);
      await t.store.jobs.setHeld(1004, false);
      const job = (await t.store.events.after(0, { types: ['job.status'] })).map((e) => e.data);
      expect(job).toEqual([
        { jobId: '1004', status: 'HELD', sessionId: null },
        { jobId: '1004', status: 'RUNNING', sessionId: '7' },
        { jobId: '1004', status: 'HELD', sessionId: '7' },
        { jobId: '1004', status: 'IDLE', sessionId: null },
      ]);
    } finally {
      await t.cleanup();
    }
  });

  it('maintenance removes events older than eventRetentionDays, always keeping the newest', async () => {
    const t = await openStore();
    const engine = new Engine({ store: t.store, clock: systemClock, secrets, collectors: new Map(), queue: new InProcessQueue(2) });
    try {
      await engine.init();
      engine.start();
      const run = async () => {
        const { session } = await engine.startJob(MAINTENANCE_JOB_ID, { by: 'test', trigger: 'manual' });
        await engine.waitForSession(session.id);
        const logs = await t.store.events.after(0, { types: ['log'], sessionId: session.id });
        return logs.map((e) => e.data as { messageId: string; messageParams: string[] }).find((l) => l.messageId === 'CNSM0201')!.messageParams;
      };
      // By default (1 day) a fresh journal keeps everything.
      expect(await run()).toEqual(['0', '1']);
      const before = await t.store.events.latest();
      expect(before).toBeGreaterThan(5);
      expect(await t.store.events.oldest()).toBe(1);
      // A retention of ~1.7 s, and 2 s later: the first run's events go, the second run's stay.
      await t.store.jobs.setOptions(MAINTENANCE_JOB_ID, { retentionDays: 30, eventRetentionDays: 0.00002 });
      await new Promise((r) => setTimeout(r, 2_000));
      const fromSecond = before + 1;
      const [removed] = await run();
      expect(Number(removed)).toBe(before);
      expect(await t.store.events.oldest()).toBe(fromSecond);
    } finally {
      await engine.stop();
      await t.cleanup();
    }
  });
});
