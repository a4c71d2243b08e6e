import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPgSchema, DIALECTS, PG_URL, sqliteStore, type TestStore } from './support/stores.ts';
import { Store } from '../src/store/index.ts';
import { parseFilter, parseSort, toConditions, toOrder, type FieldMap } from '../src/core/query.ts';
import type { JobSession } from '../src/core/types.ts';
import { fixedQuery, rowInserts } from '../src/store/rows.ts';
import { NotAffected } from '../src/store/later.ts';

const sessionFields: FieldMap = {
  id: { column: 'id', type: 'number' },
  jobId: { column: 'jobId', type: 'number' },
  jobName: { column: 'jobName', type: 'string' },
  status: { column: 'status', type: 'string' },
  start: { column: 'start', type: 'number' },
};

const session = (id: number, over: Partial<JobSession> = {}): JobSession => ({
  id, jobId: 1004, jobName: 'Application Server Inventory', type: 'catalog', subType: 'application',
  serviceId: 'serviceprovider.catalog.application', status: 'COMPLETED', start: id, end: id + 10, lastUpdate: id + 10,
  numTasks: 0, percent: 100, results: 'COMPLETED', trigger: 'manual', cancelRequested: false, statistics: [], scope: [], ...over,
});

describe.each(DIALECTS)('store on %s', (_name, open) => {
  let t: TestStore;
  afterEach(async () => t && (await t.cleanup()));

  it('migrates, and ids of users start at 1000', async () => {
    t = await open();
    const u = await t.store.users.create('admin', 'x', 1);
    expect(u.id).toBe(1000);
    expect((await t.store.users.byName('admin'))?.id).toBe(1000);
  });

  it('writes a commit\'s log entries and events in batches of any size, each value in its column', async () => {
    t = await open();
    const s = await t.store.sessions.insert(session(1_700_000_000_000, { status: 'RUNNING' }));
    const entry = (i: number) => ({
      id: String(i).padStart(24, '0'), sessionId: s.id, jobId: 1004, taskId: i % 2 ? i : null, logTime: 1_000 + i,
      type: i % 3 ? 'INFO' as const : 'WARN' as const, messageId: `CNSJ${i}`, messageParams: [`p${i}`, 'q'], message: `m ${i}`,
    });
    const seq = (await t.store.events.after(0, {}, 1_000_000)).at(-1)?.seq ?? 0;
    // 1, 2 and 201 rows: each a different statement text, the last one past a batch's 200 rows.
    for (const n of [1, 2, 201]) {
      await t.store.transaction(async (r) => {
        await r.logs.add(Array.from({ length: n }, (_, k) => entry(n * 1_000 + k)));
        await r.events.add(...Array.from({ length: n }, (_, k) => ({ type: 'session.updated' as const, jobId: 1004, sessionId: s.id, data: { n, k } })));
      });
    }
    const logs = await t.store.logs.list({ where: [{ column: 'sessionId', kind: 'cmp', op: '=', value: s.id }], order: [], limit: 1_000, offset: 0 });
    const expected = [1, 2, 201].flatMap((n) => Array.from({ length: n }, (_, k) => entry(n * 1_000 + k)));
    expect(logs.items.map((l) => ({ ...l })).sort((a, b) => a.logTime - b.logTime)).toEqual(expected);
    const events = (await t.store.events.after(seq, { sessionId: s.id }, 1_000)).map((e) => [e.type, e.jobId, e.sessionId, e.data]);
    expect(events).toEqual([1, 2, 201].flatMap((n) => Array.from({ length: n }, (_, k) => ['session.updated', 1004, s.id, { n, k }])));
  });

  it('claims and ends a task with its event in the transaction\'s last statements, and writes neither when the task is no longer its to take or end', async () => {
    t = await open();
    const s = await t.store.sessions.insert(session(1_700_000_000_000, { status: 'RUNNING' }));
    const [task] = await t.store.tasks.insertMany([{ sessionId: s.id, name: 'db1', targetKind: 'appserver', targetId: '42', payload: null, status: 'PENDING', start: null, end: null, attempts: 0, errorCode: null, message: null, owner: null, leaseExpires: null, queuedAt: null }]);
    const seq = (await t.store.events.after(0, {}, 1_000_000)).at(-1)?.seq ?? 0;
    const claim = (owner: string) => t.store.transaction(async (r) => {
      const c = await r.tasks.claim(task!.id, owner, 5, 1_000);
      await r.events.add({ type: 'task.updated', jobId: 1004, sessionId: s.id, data: { owner } });
      return c;
    });
    // On PostgreSQL the claim, its event and the COMMIT go to the server as one string.
    const sent = vi.spyOn(pg.Client.prototype, 'query');
    expect(await claim('first')).toEqual({ full: false });
    if (t.store.dialect === 'postgres') expect(sent).toHaveBeenCalledTimes(1);
    sent.mockRestore();
    const claimed = (await t.store.tasks.withSession(task!.id))!.task;
    expect([claimed.status, claimed.owner, claimed.attempts, claimed.start]).toEqual(['RUNNING', 'first', 1, 5]);
    // The second finds it RUNNING: the transaction rolls back, its event with it.
    await expect(claim('second')).rejects.toBeInstanceOf(NotAffected);
    expect((await t.store.tasks.withSession(task!.id))!.task.owner).toBe('first');
    const events = await t.store.events.after(seq, { sessionId: s.id }, 100);
    expect(events.map((e) => e.data)).toEqual([{ owner: 'first' }]);
    // The store is usable after the rolled-back one (on PostgreSQL the connection left the failed transaction).
    expect(await t.store.transaction(async (r) => (await r.tasks.withSession(task!.id))?.task.status)).toBe('RUNNING');
    // Its end, also kept for the commit: by a process that does not hold it (a late result after
    // its claim was lost) it fails, and what came with it is not written; by its owner it commits.
    const end = (owner: string) => t.store.transaction(async (r) => {
      await r.tasks.finish(task!.id, owner, { status: 'COMPLETED', end: 9, errorCode: null, message: null });
      await r.events.add({ type: 'task.updated', jobId: 1004, sessionId: s.id, data: { ended: owner } });
    });
    await expect(end('second')).rejects.toBeInstanceOf(NotAffected);
    await end('first');
    const ended = (await t.store.tasks.withSession(task!.id))!.task;
    expect([ended.status, ended.end, ended.owner]).toEqual(['COMPLETED', 9, null]);
    expect((await t.store.events.after(seq, { sessionId: s.id }, 100)).map((e) => e.data)).toEqual([{ owner: 'first' }, { ended: 'first' }]);
  });

  it('gives two sessions created in the same millisecond distinct ids', async () => {
    t = await open();
    const a = await t.store.sessions.insert(session(1_700_000_000_000));
    const b = await t.store.sessions.insert(session(1_700_000_000_000));
    expect(a.id).toBe(1_700_000_000_000);
    expect(b.id).toBe(1_700_000_000_001);
  });

  it('lets only one of two concurrent starts claim a job', async () => {
    t = await open();
    await t.store.jobs.ensure({
      id: 1004, name: 'Application Server Inventory', description: null, policyId: 1004, policyName: 'x', type: 'catalog',
      subType: 'application', serviceId: 's', held: false, runningSessionId: null, lastSessionId: null, triggerId: null,
      schedule: null, nextFireTime: null, options: {},
    });
    const results = await Promise.all([t.store.jobs.claimRun(1004, 1), t.store.jobs.claimRun(1004, 2)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    await t.store.jobs.finishRun(1004, (await t.store.jobs.get(1004))!.runningSessionId!);
    expect((await t.store.jobs.get(1004))?.runningSessionId).toBeNull();
  });

  it('filters with wildcards, loose types, IN and sorts, with a total over all pages', async () => {
    t = await open();
    for (let i = 0; i < 5; i++) {
      await t.store.sessions.insert(session(1000 + i, { status: i % 2 ? 'PARTIAL' : 'COMPLETED', jobName: i < 3 ? 'Application Server Inventory' : 'Maintenance' }));
    }
    const q = (filter: string, sort = '[]', limit = 100, offset = 0) =>
      t.store.sessions.list({ where: toConditions(parseFilter(filter), sessionFields), order: toOrder(parseSort(sort), sessionFields), limit, offset });
    expect((await q('[{"property":"jobName","value":"application*"}]')).total).toBe(3);
    expect((await q('[{"property":"start","value":"1002","op":">="}]')).total).toBe(3);
    expect((await q('[{"property":"status","value":["PARTIAL"],"op":"IN"},{"property":"jobId","value":"1004"}]')).total).toBe(2);
    expect((await q('[{"property":"noSuchProperty","value":1}]')).total).toBe(5);
    const page = await q('[]', '[{"property":"start","direction":"DESC"}]', 2, 2);
    expect(page.total).toBe(5);
    expect(page.items.map((s) => s.id)).toEqual([1002, 1001]);
    expect((await q('[{"property":"jobName","value":"50%_*"}]')).total).toBe(0);
  });

  it('keeps first-seen and marks databases missing instead of deleting them', async () => {
    t = await open();
    const ident = await t.store.identities.create({ name: 'i', username: 'u', secret: 's', kind: 'password', type: 'system', ostype: 'LINUX', comment: null, createdAt: 1 });
    const a = await t.store.appservers.create({
      name: 'db1', hostAddress: 'h', portNumber: 5432, applicationType: 'postgresql', osType: 'linux', identityId: ident.id,
      comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: 1,
    });
    const inst = (dbs: string[]) => [{ name: 'h:5432', host: 'h', port: 5432, version: '15', properties: {}, databases: dbs.map((name) => ({ name, sizeBytes: 10, owner: 'o', encoding: 'UTF8', properties: {} })) }];
    await t.store.transaction((r) => r.inventory.record({ appserverId: a.id, applicationType: 'postgresql', childType: 'database', sessionId: 1, now: 100 }, inst(['a', 'b'])));
    const changes = await t.store.transaction((r) => r.inventory.record({ appserverId: a.id, applicationType: 'postgresql', childType: 'database', sessionId: 2, now: 200 }, inst(['a'])));
    expect(changes).toEqual([expect.objectContaining({ objectType: 'database', objectName: 'b', change: 'disappeared' })]);
    const history = await t.store.inventory.listChanges({ where: [], order: [], limit: 10, offset: 0 }, { sessionId: 1 });
    expect(history.items.map((c) => `${c.objectType}:${c.objectName}:${c.change}`).sort()).toEqual(['database:a:appeared', 'database:b:appeared', 'instance:h:5432:appeared']);
    const instances = await t.store.inventory.listInstances({ where: [], order: [], limit: 10, offset: 0 }, 'postgresql');
    expect(instances.total).toBe(1);
    const dbs = await t.store.inventory.listDatabases({ where: [], order: [], limit: 10, offset: 0 }, instances.items[0]!.id);
    const byName = Object.fromEntries(dbs.items.map((d) => [d.name, d]));
    expect(byName.a).toMatchObject({ firstSeen: 100, lastSeen: 200, missing: false });
    expect(byName.b).toMatchObject({ firstSeen: 100, lastSeen: 100, missing: true });
    // A row found as stored only gets its last sighting; one that differs in any way is written whole.
    const grown = inst(['a', 'b', 'c']);
    grown[0]!.databases[0]!.sizeBytes = 20;
    await t.store.transaction((r) => r.inventory.record({ appserverId: a.id, applicationType: 'postgresql', childType: 'database', sessionId: 3, now: 300 }, grown));
    await t.store.transaction((r) => r.inventory.record({ appserverId: a.id, applicationType: 'postgresql', childType: 'database', sessionId: 4, now: 400 }, grown));
    const after = await t.store.inventory.listDatabases({ where: [], order: [], limit: 10, offset: 0 }, instances.items[0]!.id);
    expect(Object.fromEntries(after.items.map((d) => [d.name, [Number(d.sizeBytes), d.missing, d.firstSeen, d.lastSeen]]))).toEqual({
      a: [20, false, 100, 400], b: [10, false, 100, 400], c: [10, false, 300, 400],
    });
  });

  it('writes no database row for a run that finds it as stored: its last sighting is its instance\'s, until it goes missing', async () => {
    t = await open();
    const a = await t.store.appservers.create({
      name: 'db3', hostAddress: 'h3', portNumber: 5432, applicationType: 'postgresql', osType: 'linux', identityId: null,
      comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: 1,
    });
    const inst = (name: string, dbs: string[]) => ({ name, host: 'h3', port: 5432, version: '15', properties: {}, databases: dbs.map((d) => ({ name: d, sizeBytes: 10, owner: 'o', encoding: 'UTF8', properties: {} })) });
    const run = (sessionId: number, now: number, found: ReturnType<typeof inst>[]) =>
      t!.store.transaction((r) => r.inventory.record({ appserverId: a.id, applicationType: 'postgresql', childType: 'database', sessionId, now }, found));
    const rows = async () => Object.fromEntries((await t!.store.db.selectFrom('databases').select(['name', 'lastSeen', 'missing']).execute())
      .map((d) => [d.name, [Number(d.lastSeen), Number(d.missing)]]));
    await run(1, 100, [inst('main', ['a', 'b']), inst('other', ['c'])]);
    await run(2, 200, [inst('main', ['a', 'b']), inst('other', ['c'])]);
    // Nothing of them changed: their rows are as the first run wrote them…
    expect(await rows()).toEqual({ a: [100, 0], b: [100, 0], c: [100, 0] });
    // …and readers see them last seen by the second run, through the list and one by one.
    const [main] = (await t.store.inventory.listInstances({ where: [], order: [], limit: 10, offset: 0 }, 'postgresql')).items;
    const list = await t.store.inventory.listDatabases({ where: [{ column: 'lastSeen', kind: 'cmp', op: '>=', value: 200 }], order: [], limit: 10, offset: 0 }, main!.id);
    expect(list.items.map((d) => [d.name, d.lastSeen])).toEqual([['a', 200], ['b', 200]]);
    expect((await t.store.inventory.database(list.items[0]!.id))?.lastSeen).toBe(200);

    // b goes, and so does the whole instance of c: each keeps the last run that saw it.
    await run(3, 300, [inst('main', ['a'])]);
    const byName = async () => {
      const out: Record<string, [number, boolean]> = {};
      for (const i of (await t!.store.inventory.listInstances({ where: [], order: [], limit: 10, offset: 0 }, 'postgresql')).items) {
        for (const d of (await t!.store.inventory.listDatabases({ where: [], order: [], limit: 10, offset: 0 }, i.id)).items) out[d.name] = [d.lastSeen, d.missing];
      }
      return out;
    };
    expect(await byName()).toEqual({ a: [300, false], b: [200, true], c: [200, true] });
    // Later runs do not move what went missing.
    await run(4, 400, [inst('main', ['a'])]);
    expect(await byName()).toEqual({ a: [400, false], b: [200, true], c: [200, true] });
  });

  it("gives the collector the last inventory's instances and present databases, with their properties", async () => {
    t = await open();
    const a = await t.store.appservers.create({
      name: 'db2', hostAddress: 'h2', portNumber: 5432, applicationType: 'postgresql', osType: 'linux', identityId: null,
      comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: 1,
    });
    const db = (name: string) => ({ name, sizeBytes: 1, owner: 'o', encoding: 'UTF8', properties: { signal: `s-${name}` } });
    const found = (dbs: string[]) => [
      { name: 'h2:5432', host: 'h2', port: 5432, version: '15', properties: { v: 1, walLevel: 'replica' }, databases: dbs.map(db) },
      { name: 'h2:5433', host: 'h2', port: 5433, version: '16', properties: { v: 2 }, databases: [] },
    ];
    expect((await t.store.inventory.stored(a.id)).previous()).toEqual({ instances: [] });
    await t.store.transaction((r) => r.inventory.record({ appserverId: a.id, applicationType: 'postgresql', childType: 'database', sessionId: 1, now: 100 }, found(['x', 'y', 'z'])));
    await t.store.transaction((r) => r.inventory.record({ appserverId: a.id, applicationType: 'postgresql', childType: 'database', sessionId: 2, now: 200 }, found(['x', 'z'])));
    expect((await t.store.inventory.stored(a.id)).previous()).toEqual({
      instances: [
        { name: 'h2:5432', properties: { v: 1, walLevel: 'replica' }, databases: [{ name: 'x', properties: { signal: 's-x' } }, { name: 'z', properties: { signal: 's-z' } }] },
        { name: 'h2:5433', properties: { v: 2 }, databases: [] },
      ],
    });

    // A task reads the stored inventory once: the collector's copy and recording's rows are the
    // same read, and what the collector does with its copy does not reach what recording compares.
    const stored = await t.store.inventory.stored(a.id);
    const previous = stored.previous();
    expect(previous).toEqual((await t.store.inventory.stored(a.id)).previous());
    previous.instances[0]!.properties.v = 99;
    previous.instances[0]!.properties.walLevel = 'logical'; // a watched property: a change, were it the rows' own
    previous.instances[0]!.databases[0]!.properties.signal = 'moved';
    const ctx = { appserverId: a.id, applicationType: 'postgresql', childType: 'database', sessionId: 3, now: 300 };
    // `y`, missing since session 2, was left out of the collector's copy; found again, it reappears.
    const changes = await t.store.transaction((r) => r.inventory.record(ctx, found(['x', 'y', 'z']), stored));
    expect(changes.map((c) => [c.objectName, c.change])).toEqual([['y', 'reappeared']]);
    expect((await t.store.inventory.stored(a.id)).previous().instances[0]!.databases.map((d) => d.name)).toEqual(['x', 'y', 'z']);
  });

  it('reads a task with its session, and a server with its identity, each in one read', async () => {
    t = await open();
    const s = await t.store.sessions.insert(session(1_700_000_000_000, { status: 'RUNNING', end: null, results: 'RUNNING', percent: 7, cancelRequested: true, statistics: [{ resourceType: 'x', total: 1, success: 1, failed: 0, skipped: 0 }] }));
    const [task] = await t.store.tasks.insertMany([{ sessionId: s.id, name: 'db1', targetKind: 'appserver', targetId: '42', payload: { a: [1] }, status: 'PENDING', start: null, end: null, attempts: 0, errorCode: null, message: null, owner: null, leaseExpires: null, queuedAt: null }]);
    const both = await t.store.tasks.withSession(task!.id);
    expect(both).toEqual({ task: await t.store.tasks.get(task!.id), session: await t.store.sessions.getState(s.id) });
    expect(both!.session).toMatchObject({ id: s.id, status: 'RUNNING', percent: 7, cancelRequested: true });
    expect(both!.task).toMatchObject({ id: task!.id, status: 'PENDING', payload: { a: [1] } });
    expect(await t.store.tasks.withSession(task!.id + 1)).toBeUndefined();

    const identity = await t.store.identities.create({ name: 'i', username: 'u', secret: 'sealed', kind: 'password', type: 'system', ostype: 'LINUX', comment: 'c', createdAt: 5 });
    const server = (name: string, identityId: number | null) => t.store.appservers.create({
      name, hostAddress: 'h', portNumber: 5432, applicationType: 'postgresql', osType: 'linux', identityId, comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: 1,
    });
    const withOne = await server('with', identity.id);
    const without = await server('without', null);
    expect(await t.store.appservers.withIdentity(withOne.id)).toEqual({ server: await t.store.appservers.get(withOne.id), identity: await t.store.identities.get(identity.id) });
    expect(await t.store.appservers.withIdentity(without.id)).toEqual({ server: await t.store.appservers.get(without.id), identity: undefined });
    expect(await t.store.appservers.withIdentity(without.id + 100)).toBeUndefined();
  });

  it("moves a session's tasks in one status at once, leaving the rest and other sessions' alone", async () => {
    t = await open();
    let server = 0;
    const task = (sessionId: number, name: string, status: 'PENDING' | 'RUNNING' | 'COMPLETED') => ({
      sessionId, name, targetKind: 'appserver', targetId: String(++server), payload: null, status, start: null, end: null, attempts: 0, errorCode: null, message: null, owner: null, leaseExpires: null, queuedAt: null,
    });
    const a = await t.store.sessions.insert(session(1_700_000_000_000, { status: 'RUNNING' }));
    const b = await t.store.sessions.insert(session(1_700_000_000_100, { status: 'RUNNING' }));
    await t.store.tasks.insertMany([task(a.id, 'p1', 'PENDING'), task(a.id, 'r1', 'RUNNING'), task(a.id, 'p2', 'PENDING'), task(a.id, 'c1', 'COMPLETED'), task(b.id, 'p3', 'PENDING')]);
    const moved = await t.store.tasks.transitionSession(a.id, ['PENDING'], { status: 'CANCELLED', end: 9, errorCode: 'CANCELLED' });
    expect(moved.map((x) => [x.name, x.status, x.end, x.errorCode])).toEqual([['p1', 'CANCELLED', 9, 'CANCELLED'], ['p2', 'CANCELLED', 9, 'CANCELLED']]);
    expect((await t.store.tasks.bySession(a.id)).map((x) => [x.name, x.status])).toEqual([['p1', 'CANCELLED'], ['r1', 'RUNNING'], ['p2', 'CANCELLED'], ['c1', 'COMPLETED']]);
    expect((await t.store.tasks.bySession(b.id)).map((x) => x.status)).toEqual(['PENDING']);
    expect(await t.store.tasks.transitionSession(a.id, ['PENDING'], { status: 'CANCELLED' })).toEqual([]);
    await expect(t.store.tasks.transitionSession(a.id, ['COMPLETED'], { status: 'PENDING' })).rejects.toThrow('cannot move');
  });

  it('rolls a transaction back as a whole', async () => {
    t = await open();
    await expect(
      t.store.transaction(async (r) => {
        await r.users.create('x', 'h', 1);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await t.store.users.byName('x')).toBeUndefined();
  });
});

describe('the jobs cache generation on SQLite', () => {
  let t: TestStore | undefined;
  afterEach(async () => t && (await t.cleanup()));

  it('moves with writes to jobs and sessions, not with writes to other tables', async () => {
    t = await sqliteStore();
    const { store } = t;
    const gen = () => store.cacheGeneration('jobs')!;
    let before = gen();
    await store.users.create('someone', 'x', 1);
    await store.identities.create({ name: 'i', username: 'u', kind: 'password', secret: 'sealed', type: 'system', ostype: 'LINUX', comment: null, createdAt: 1 });
    await store.settings.put('alerts', { failingRuns: 2 });
    // Reads written with the sql tag (the metrics' figures) read; a /metrics scrape must not
    // drop the cached job answers.
    await store.metrics.sessionTotals();
    await store.metrics.sessionDurations([1, 10]);
    await store.metrics.deliveryAttempts();
    expect(gen()).toBe(before);

    const s = await store.sessions.insert(session(1_700_000_000_000, { status: 'RUNNING' }));
    expect(gen()).toBeGreaterThan(before);
    before = gen();
    await store.transaction(async (r) => {
      await r.logs.add([{ id: 'a'.repeat(24), sessionId: s.id, jobId: 1004, taskId: null, logTime: 1, type: 'INFO', messageId: 'CNSJ0001', messageParams: [], message: 'x' }]);
    });
    expect(gen()).toBe(before);
    await store.sessions.update(s.id, { percent: 50, lastUpdate: 2 });
    expect(gen()).toBeGreaterThan(before);
  });

  it('refuses a statement compiled once (which the count does not see) that writes jobs or sessions', async () => {
    t = await sqliteStore();
    const db = t.store.db;
    const touch = fixedQuery((d, id: number) => d.updateTable('jobSessions').set({ percent: 1 }).where('id', '=', id));
    expect(() => touch(db, 1)).toThrow(/may not write the jobs scope/);
    const rename = fixedQuery((d, id: number) => d.updateTable('jobs').set({ name: 'x' }).where('id', '=', id));
    expect(() => rename(db, 1)).toThrow(/may not write the jobs scope/);
    expect(() => rowInserts('jobSessions', ['id'], (id: number) => [id])(db, [1])).toThrow(/may not write the jobs scope/);
    // A write elsewhere compiles (the tasks' claim and finish are such).
    const seen = fixedQuery((d, id: number) => d.updateTable('tasks').set({ queuedAt: 1 }).where('id', '=', id));
    expect(seen(db, 1).sql).toMatch(/^update "tasks"/i);
  });
});

describe('the fixed queries on PostgreSQL', () => {
  it('are prepared once on each connection, then only bound and run', async () => {
    const { schema, drop } = await createPgSchema();
    const store = await Store.open({ url: PG_URL, schema, poolSize: 1 });
    try {
      const s = await store.sessions.insert(session(1_700_000_000_000, { status: 'RUNNING' }));
      const [task] = await store.tasks.insertMany([{ sessionId: s.id, name: 'db1', targetKind: 'appserver', targetId: '42', payload: null, status: 'PENDING', start: null, end: null, attempts: 0, errorCode: null, message: null, owner: null, leaseExpires: null, queuedAt: null }]);
      for (let i = 0; i < 3; i++) expect((await store.tasks.withSession(task!.id))?.task.id).toBe(task!.id);
      const { rows } = await store.executeSql('SELECT name, statement FROM pg_prepared_statements', []);
      const mine = (rows as { name: string; statement: string }[]).filter((r) => r.statement.includes('inner join "job_sessions"'));
      expect(mine).toHaveLength(1);
      expect(mine[0]!.name).toMatch(/^census_\d+_0$/);
    } finally {
      await store.close();
      await drop();
    }
  });
});
