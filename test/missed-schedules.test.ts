/**
 * Missed schedules (docs/scheduling.md): a fire found later than the grace is missed; the job's
 * missed-run policy runs it once or skips it, with a schedule.missed alert raised in the fire's
 * compare-and-set transaction and cleared by the next on-time fire; a held job at its time and a
 * trigger no process moved on (the watchdog) raise it too; overlapping triggers never start a
 * second session. With the fake clock on both store dialects, and with a real `census server`
 * stopped across its trigger time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemActor } from '../src/core/actor.ts';
import type { Alert } from '../src/core/alerts.ts';
import { FakeClock, type Clock } from '../src/core/clock.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import type { DailySchedule, Job, JobSession } from '../src/core/types.ts';
import { Engine } from '../src/engine/engine.ts';
import type { JobType } from '../src/engine/jobtypes/index.ts';
import { InProcessQueue } from '../src/engine/queue.ts';
import { nextFireTime } from '../src/engine/schedule.ts';
import { HYPERVISOR_INVENTORY_JOB_ID, INVENTORY_JOB_ID, MAINTENANCE_JOB_ID } from '../src/engine/system-jobs.ts';
import { jobService } from '../src/services/jobs.ts';
import { Scheduler } from '../src/services/scheduler.ts';
import { Store } from '../src/store/index.ts';
import { spawnCensus, type CensusProcess } from './support/processes.ts';
import { ADMIN_PASSWORD, request, waitFor } from './support/server.ts';
import { DIALECTS, type TestStore } from './support/stores.ts';

const secrets = SecretBox.fromKey(Buffer.alloc(32, 9));
const JOB_ID = 4343;
const SERVICE = 'test.gated';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BERLIN: DailySchedule = { time: '02:30', timezone: 'Europe/Berlin' };
const KEY = `schedule:${JOB_ID}`;
const ADMIN = systemActor('test');

/** One task that waits for the gate: a session stays RUNNING until the test opens it. */
class Gate {
  private release: () => void = () => {};
  private promise: Promise<void> = Promise.resolve();
  close(): void {
    this.promise = new Promise((r) => (this.release = r));
  }
  open(): void {
    this.release();
    this.promise = Promise.resolve();
  }
  wait(): Promise<void> {
    return this.promise;
  }
}

const gatedType = (gate: Gate): JobType => ({
  serviceId: SERVICE,
  async plan() {
    return { tasks: [{ name: 'wait for the gate', targetKind: 'test', targetId: 'gate' }] };
  },
  async run() {
    await gate.wait();
    return { status: 'COMPLETED' };
  },
});

const gatedJob = (schedule: DailySchedule, nextFire: number): Job => ({
  id: JOB_ID, name: 'Nightly Check', description: null, policyId: JOB_ID, policyName: 'Nightly Check', type: 'test', subType: 'gated',
  serviceId: SERVICE, held: false, runningSessionId: null, lastSessionId: null, triggerId: JOB_ID, schedule, nextFireTime: nextFire, options: {},
});

async function sessionsOf(store: Store, jobId = JOB_ID): Promise<JobSession[]> {
  const all = await store.sessions.list({ where: [], order: [], limit: 1000, offset: 0 });
  return all.items.filter((s) => s.jobId === jobId).sort((a, b) => a.id - b.id);
}

async function alertsOf(store: Store, key = KEY): Promise<Alert[]> {
  return (await store.alerts.list({ where: [], order: [], limit: 1000, offset: 0 })).items.filter((a) => a.key === key).sort((a, b) => a.id - b.id);
}

/** A store, an engine running the gated type, the jobs service and a scheduler over them, as main.ts wires them. */
async function world(store: Store, clock: Clock, gate: Gate, processName = 'p0') {
  const engine = new Engine({ store, clock, secrets, collectors: new Map(), queue: new InProcessQueue(2), jobTypes: [gatedType(gate)], processName });
  await engine.init({ exclusive: false });
  engine.start();
  const jobs = jobService({ store, engine, clock, secrets, collectors: [] });
  return { engine, jobs, scheduler: new Scheduler({ store, clock }, jobs) };
}

describe.each(DIALECTS)('missed schedules on %s', (_name, open) => {
  let t: TestStore | undefined;
  const engines: Engine[] = [];
  const extraStores: Store[] = [];
  const gate = new Gate();

  afterEach(async () => {
    gate.open();
    for (const e of engines.splice(0)) await e.stop();
    for (const s of extraStores.splice(0)) await s.close();
    await t?.cleanup();
    t = undefined;
  });

  /** Only the gated job is scheduled; its first fire is 2026-06-02 02:30 Berlin (00:30 UTC). */
  async function setUp(start = Date.UTC(2026, 5, 1, 12)) {
    t = await open();
    const clock = new FakeClock(start);
    const w = await world(t.store, clock, gate);
    engines.push(w.engine);
    for (const id of [MAINTENANCE_JOB_ID, INVENTORY_JOB_ID, HYPERVISOR_INVENTORY_JOB_ID]) await t.store.jobs.setSchedule(id, null, null);
    const first = nextFireTime(BERLIN, clock.now());
    expect(new Date(first).toISOString()).toBe('2026-06-02T00:30:00.000Z');
    await t.store.jobs.ensure(gatedJob(BERLIN, first));
    return { ...w, clock, store: t.store, first };
  }

  const ended = (engine: Engine, s: JobSession) => engine.waitForSession(s.id, 20_000);

  it('run-once: several missed days run one catch-up session, raise the alert, and the next on-time fire clears it', async () => {
    const { store, clock, scheduler, engine, first } = await setUp();
    // Census was down for three trigger times; it comes back at noon on the third day.
    clock.set(first + 2 * DAY + 11 * HOUR);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    expect(await scheduler.tick()).toEqual([]); // once, not once per missed day

    const sessions = await sessionsOf(store);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.trigger).toBe('catch-up');
    expect((await ended(engine, sessions[0]!)).status).toBe('COMPLETED');
    const job = await store.jobs.get(JOB_ID);
    expect(job!.nextFireTime).toBe(first + 3 * DAY);

    const [alert] = await alertsOf(store);
    expect(alert).toMatchObject({ kind: 'schedule.missed', status: 'ACTIVE', severity: 'WARN', jobId: JOB_ID, count: 1, objects: [{ type: 'job', id: JOB_ID, name: 'Nightly Check' }] });
    // The missed times in the trigger's zone, and what was done.
    expect(alert!.message).toContain('2026-06-02 02:30 Europe/Berlin, 2026-06-03 02:30 Europe/Berlin, 2026-06-04 02:30 Europe/Berlin');
    expect(alert!.message).toContain('ran once');

    // The catch-up run does not clear it; the next fire on time does.
    clock.set(first + 3 * DAY + 2_000);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    const after = await store.alerts.get(alert!.id);
    expect(after).toMatchObject({ status: 'CLEARED', clearedAt: clock.now() });
    const all = await sessionsOf(store);
    expect(all.map((s) => s.trigger)).toEqual(['catch-up', 'schedule']);
  });

  it('run-once: a catch-up and an on-time trigger that coincide start one session', async () => {
    const { store, clock, scheduler, first } = await setUp();
    // Down over two trigger times; back one minute after the third, within the grace.
    clock.set(first + 2 * DAY + 60_000);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    const sessions = await sessionsOf(store);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.trigger).toBe('schedule');
    const [alert] = await alertsOf(store);
    expect(alert!.status).toBe('ACTIVE');
    expect(alert!.message).toContain('2026-06-02 02:30 Europe/Berlin, 2026-06-03 02:30 Europe/Berlin:');
    expect(alert!.message).not.toContain('2026-06-04');
  });

  it('skip: starts nothing, moves the trigger on and leaves an ACTIVE alert, set through the trigger service', async () => {
    const { store, clock, scheduler, jobs, first } = await setUp();
    const set = await jobs.setTrigger(ADMIN, JOB_ID, { missedRun: 'skip' });
    expect(set.options).toMatchObject({ missedRun: 'skip' });
    expect(set.schedule).toEqual(BERLIN); // the trigger stays as it was
    await expect(jobs.setTrigger(ADMIN, JOB_ID, { missedRun: 'twice' })).rejects.toThrow(/"missedRun" must be "run-once" or "skip"/);
    await expect(jobs.setTrigger(ADMIN, JOB_ID, {})).rejects.toThrow(/Give "time"/);

    clock.set(first + DAY + 6 * HOUR);
    expect(await scheduler.tick()).toEqual([]);
    expect(await sessionsOf(store)).toHaveLength(0);
    expect((await store.jobs.get(JOB_ID))!.nextFireTime).toBe(first + 2 * DAY);
    const [alert] = await alertsOf(store);
    expect(alert).toMatchObject({ status: 'ACTIVE', severity: 'WARN', kind: 'schedule.missed' });
    expect(alert!.message).toContain('2026-06-02 02:30 Europe/Berlin, 2026-06-03 02:30 Europe/Berlin');
    expect(alert!.message).toContain('Skipped');

    // Still nothing on the next ticks; the alert stays until a fire on time.
    expect(await scheduler.tick()).toEqual([]);
    expect((await store.alerts.get(alert!.id))!.status).toBe('ACTIVE');
    clock.set(first + 2 * DAY);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    expect((await sessionsOf(store)).map((s) => s.trigger)).toEqual(['schedule']);
    expect((await store.alerts.get(alert!.id))!.status).toBe('CLEARED');
  });

  it('a held job at its time: no session, the trigger moves on, an INFO alert says it was held', async () => {
    const { store, clock, scheduler, jobs, first } = await setUp();
    await jobs.hold(ADMIN, JOB_ID);
    clock.set(first);
    expect(await scheduler.tick()).toEqual([]);
    expect(await sessionsOf(store)).toHaveLength(0);
    expect((await store.jobs.get(JOB_ID))!.nextFireTime).toBe(first + DAY);
    const [alert] = await alertsOf(store);
    expect(alert).toMatchObject({ status: 'ACTIVE', severity: 'INFO', kind: 'schedule.missed' });
    expect(alert!.message).toMatch(/is held: its scheduled run at 2026-06-02 02:30 Europe\/Berlin did not start/);

    await jobs.release(ADMIN, JOB_ID);
    clock.set(first + DAY);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    expect((await store.alerts.get(alert!.id))!.status).toBe('CLEARED');
  });

  it('the watchdog raises the alert for a trigger left in the past, once, and the next tick applies the policy', async () => {
    const { store, clock, scheduler, first } = await setUp();
    // Within the grace (five minutes by default) it is not late yet.
    clock.set(first + 4 * 60_000);
    expect(await scheduler.watch()).toEqual([]);
    expect(await alertsOf(store)).toHaveLength(0);

    // No scheduler ran: the trigger is still at its time, ten minutes ago.
    clock.set(first + 10 * 60_000);
    expect(await scheduler.watch()).toEqual([JOB_ID]);
    expect(await scheduler.watch()).toEqual([]); // said once
    expect((await store.jobs.get(JOB_ID))!.nextFireTime).toBe(first); // moved nothing
    const [alert] = await alertsOf(store);
    expect(alert).toMatchObject({ status: 'ACTIVE', severity: 'WARN', count: 1 });
    expect(alert!.message).toContain('was due at 2026-06-02 02:30 Europe/Berlin (10 min ago) and has not started');

    // A scheduler comes back: run-once, one session; the same alert now says what was done.
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    expect(await sessionsOf(store)).toHaveLength(1);
    const now = await alertsOf(store);
    expect(now).toHaveLength(1);
    expect(now[0]).toMatchObject({ id: alert!.id, status: 'ACTIVE', count: 2 });
    expect(now[0]!.message).toContain('ran once');
    expect(await scheduler.watch()).toEqual([]);
  });

  it('the watchdog says a held job whose time passed unmoved was held (INFO)', async () => {
    const { store, clock, scheduler, jobs, first } = await setUp();
    await jobs.hold(ADMIN, JOB_ID);
    clock.set(first + HOUR);
    expect(await scheduler.watch()).toEqual([JOB_ID]);
    const [alert] = await alertsOf(store);
    expect(alert).toMatchObject({ severity: 'INFO', status: 'ACTIVE' });
    expect(alert!.message).toContain('is held');
  });

  it('a grace set in the alert settings decides what is missed', async () => {
    const { store, clock, scheduler, first } = await setUp();
    await store.settings.put('alerts', { missedGraceMs: 3 * HOUR });
    clock.set(first + 2 * HOUR);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    expect((await sessionsOf(store))[0]!.trigger).toBe('schedule');
    expect(await alertsOf(store)).toHaveLength(0);
  });

  it('a trigger that fires while the job still runs joins that run: never a second session', async () => {
    const { store, clock, scheduler, jobs, engine, first } = await setUp();
    gate.close();
    clock.set(first);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    const [running] = await sessionsOf(store);
    expect(running!.status).toBe('RUNNING');

    // Still running at its next time, and at a catch-up after a missed day, and a manual start.
    clock.set(first + DAY);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    clock.set(first + 3 * DAY);
    expect(await scheduler.tick()).toEqual([JOB_ID]);
    const manual = await jobs.start(ADMIN, JOB_ID, 'manual');
    expect(manual).toMatchObject({ started: false, session: { id: running!.id } });
    expect(await sessionsOf(store)).toHaveLength(1);

    gate.open();
    expect((await ended(engine, running!)).status).toBe('COMPLETED');
    expect(await sessionsOf(store)).toHaveLength(1);
  });

  it('two schedulers (two connections to one database on PostgreSQL) fire once and raise the alert once', async () => {
    const { store, clock, scheduler, first } = await setUp();
    // A second "process": on PostgreSQL its own store connection, engine and scheduler on the
    // same database; SQLite has one process by design (main.ts), so there a second engine and
    // scheduler share the connection.
    const other = t!.schema ? await Store.open({ url: t!.url, schema: t!.schema }) : store;
    if (other !== store) extraStores.push(other);
    const w2 = await world(other, clock, gate, 'p1');
    engines.push(w2.engine);
    const schedulers = [scheduler, w2.scheduler, scheduler, w2.scheduler];

    // Missed days: one catch-up session, one alert raised once.
    clock.set(first + 2 * DAY + 11 * HOUR);
    expect((await Promise.all(schedulers.map((s) => s.tick()))).flat()).toEqual([JOB_ID]);
    expect(await sessionsOf(store)).toHaveLength(1);
    const alerts = await alertsOf(store);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.count).toBe(1);

    // On time the next day: one fire (a start or a join), the alert cleared once.
    clock.set(first + 3 * DAY + 30_000);
    expect((await Promise.all(schedulers.map((s) => s.tick()))).flat()).toEqual([JOB_ID]);
    expect((await alertsOf(store)).map((a) => a.status)).toEqual(['CLEARED']);

    // Every process's watchdog sees the next time pass unmoved: one open alert, counted by those that said it.
    clock.set(first + 4 * DAY + HOUR);
    const said = (await Promise.all(schedulers.map((s) => s.watch()))).flat();
    expect(said.length).toBeGreaterThanOrEqual(1);
    const open = (await alertsOf(store)).filter((a) => a.status === 'ACTIVE');
    expect(open).toHaveLength(1);
    expect(open[0]!.count).toBe(said.length);
  });
});

describe('a real census server stopped across its trigger times', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'census-missed-'));
  const dbFile = join(dataDir, 'census.db');
  let proc: CensusProcess | undefined;

  afterEach(async () => {
    await proc?.kill('SIGKILL');
    proc = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    proc = spawnCensus('server', ['--data-dir', dataDir, '--port', '0'], { CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD });
    const url = await proc.started;
    const sid = (await request(url, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } })).json.sessionid as string;
    return { url, sid };
  };
  const stop = async () => {
    expect(await proc!.kill('SIGTERM')).toBe(0);
    proc = undefined;
  };
  const sessionsOfJob = async (url: string, sid: string, jobId: number) => {
    const r = await request(url, 'GET', '/api/endeavour/jobsession?pageSize=500', { sid });
    return (r.json.sessions as { jobId: string; status: string; properties: { trigger: string } }[]).filter((s) => s.jobId === String(jobId));
  };

  it('applies each job\'s policy at the next start: one catch-up session (run-once), or none and an alert (skip)', async () => {
    let { url, sid } = await start();
    // The first start ran each system job once; wait for those to end.
    await waitFor(async () => ((await request(url, 'GET', '/api/endeavour/job/1004', { sid })).json.status === 'IDLE' ? true : undefined), 'the first inventory to end');
    // Both daily triggers twelve hours away: at their default times (00:00 and 00:30 UTC) a run
    // of this test just after either would meet a fire that is on time, not missed.
    const far = new Date(Date.now() + 12 * HOUR).toISOString().slice(11, 16);
    expect((await request(url, 'PUT', '/api/endeavour/job/1004/trigger', { sid, body: { time: far, timezone: 'UTC' } })).status).toBe(200);
    const put = await request(url, 'PUT', '/api/endeavour/job/1005/trigger', { sid, body: { time: far, timezone: 'UTC', missedRun: 'skip' } });
    expect(put.status).toBe(200);
    expect(put.json.triggers[0]).toMatchObject({ time: far, timezone: 'UTC', missedRun: 'skip' });
    expect((await request(url, 'GET', '/api/endeavour/job/1005', { sid })).json.missedRun).toBe('skip');
    expect((await request(url, 'GET', '/api/endeavour/job/1004', { sid })).json.missedRun).toBe('run-once');
    const bad = await request(url, 'PUT', '/api/endeavour/job/1004/trigger', { sid, body: { missedRun: 'sometimes' } });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ id: 'XSBInvalidArgumentException' });
    const before1004 = (await sessionsOfJob(url, sid, 1004)).length;
    const before1005 = (await sessionsOfJob(url, sid, 1005)).length;
    await stop();

    // While it is down, both triggers' times pass (as if it had been off for two and a half days).
    const wasDownAt = Date.now() - 2.5 * DAY;
    const store = await Store.open({ url: dbFile });
    for (const id of [1004, 1005]) {
      const job = await store.jobs.get(id);
      expect(await store.jobs.advanceFireTime(id, job!.nextFireTime!, wasDownAt)).toBe(true);
    }
    await store.close();

    ({ url, sid } = await start());
    const catchUp = await waitFor(async () => {
      const s = (await sessionsOfJob(url, sid, 1004)).filter((x) => x.properties.trigger === 'catch-up');
      return s.length > 0 && s.every((x) => x.status !== 'RUNNING') ? s : undefined;
    }, 'the catch-up inventory to run and end');
    expect(catchUp).toHaveLength(1);
    const jobs = await Promise.all([1004, 1005].map(async (id) => (await request(url, 'GET', `/api/endeavour/job/${id}`, { sid })).json));
    for (const j of jobs) expect(j.nextFireTime).toBeGreaterThan(Date.now()); // both moved on
    await stop();

    const after = await Store.open({ url: dbFile });
    try {
      // Exactly one more session of 1004, none of 1005.
      expect((await sessionsOf(after, 1004)).length).toBe(before1004 + 1);
      expect((await sessionsOf(after, 1005)).length).toBe(before1005);
      const [ranOnce] = await alertsOf(after, 'schedule:1004');
      expect(ranOnce).toMatchObject({ status: 'ACTIVE', kind: 'schedule.missed', severity: 'WARN' });
      expect(ranOnce!.message).toContain('ran once');
      const [skipped] = await alertsOf(after, 'schedule:1005');
      expect(skipped).toMatchObject({ status: 'ACTIVE', kind: 'schedule.missed', severity: 'WARN' });
      expect(skipped!.message).toMatch(/Hypervisor Inventory missed its scheduled runs? at .* UTC/);
      expect(skipped!.message).toContain('Skipped');
    } finally {
      await after.close();
    }
  }, 120_000);
});
