/**
 * The alert and notification repositories on both dialects: one open alert per key however many
 * raise it at once, an opening and a clearing each write one notification in the same transaction
 * (and none if it rolls back), and a due delivery is queued by exactly one of two planners.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RaiseAlert } from '../src/core/alerts.ts';
import { DIALECTS, type TestStore } from './support/stores.ts';

const FAILED: RaiseAlert = {
  kind: 'session.failed', key: 'job:1004', severity: 'ERROR', message: 'Application Server Inventory ended FAILED',
  objects: [{ type: 'job', id: 1004, name: 'Application Server Inventory' }], jobId: 1004, sessionId: 1,
};

describe.each(DIALECTS)('alerts and notifications on %s', (_name, open) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('keeps one open alert per key, counts raises, and notifies only the opening and the clearing', async () => {
    const { store } = t;
    const first = await store.transaction((r) => r.alerts.raise(FAILED, 1000));
    const again = await store.transaction((r) => r.alerts.raise({ ...FAILED, sessionId: 2, message: 'again' }, 2000));
    expect(first.opened).toBe(true);
    expect(again.opened).toBe(false);
    expect(again.alert).toMatchObject({ id: first.alert.id, count: 2, lastAt: 2000, firstAt: 1000, sessionId: 2, message: 'again', status: 'ACTIVE' });
    const cleared = await store.transaction((r) => r.alerts.clear('job:1004', 3000));
    expect(cleared).toMatchObject({ status: 'CLEARED', clearedAt: 3000 });
    expect(await store.transaction((r) => r.alerts.clear('job:1004', 3001))).toBeUndefined();
    const reopened = await store.transaction((r) => r.alerts.raise(FAILED, 4000));
    expect(reopened.opened).toBe(true);
    expect(reopened.alert.id).not.toBe(first.alert.id);
    const outbox = await store.notifications.undispatched(100);
    expect(outbox.map((n) => n.type)).toEqual(['alert.raised', 'alert.cleared', 'alert.raised']);
    expect(new Set(outbox.map((n) => n.eventId)).size).toBe(3);
  });

  it('writes nothing when the transaction that raised rolls back', async () => {
    const { store } = t;
    await expect(store.transaction(async (r) => {
      await r.alerts.raise(FAILED, 1000);
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    expect(await store.alerts.open('job:1004')).toBeUndefined();
    expect(await store.notifications.undispatched(10)).toEqual([]);
  });

  it('counts concurrent raises of one key into one alert', async () => {
    const { store } = t;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.transaction((r) => r.alerts.raise(FAILED, 1000 + i))));
    expect(results.filter((x) => x.opened)).toHaveLength(1);
    const open = await store.alerts.open('job:1004');
    expect(open?.count).toBe(8);
  });

  it("clears a removed server's alerts and no one else's", async () => {
    const { store } = t;
    const raise = (key: string, kind: RaiseAlert['kind']) => store.transaction((r) => r.alerts.raise({ ...FAILED, kind, key }, 1000));
    await raise('appserver:1003', 'server.failing');
    await raise('database:1003:main/sales', 'inventory.database-removed');
    await raise('finding:1003:NO_ARCHIVE:main', 'inventory.finding');
    await raise('appserver:10030', 'server.failing');
    await raise('database:10031:main/x', 'inventory.database-removed');
    const cleared = await store.transaction((r) => r.alerts.clearServer(1003, 2000));
    expect(cleared.map((a) => a.key).sort()).toEqual(['appserver:1003', 'database:1003:main/sales', 'finding:1003:NO_ARCHIVE:main']);
    expect(await store.alerts.open('appserver:10030')).toBeDefined();
    expect(await store.alerts.open('database:10031:main/x')).toBeDefined();
  });

  it("clears one server's open findings by key prefix, but those it excepts, and not a server whose id starts the same", async () => {
    const { store } = t;
    const raise = (key: string) => store.transaction((r) => r.alerts.raise({ ...FAILED, kind: 'inventory.finding', key }, 1000));
    for (const key of ['finding:12:NO_ARCHIVE:main', 'finding:12:WAL_LEVEL_MINIMAL:main', 'finding:12:OLD:main', 'finding:120:NO_ARCHIVE:main', 'finding:1:NO_ARCHIVE:main', 'finding:12;x']) await raise(key);
    await store.transaction((r) => r.alerts.raise({ ...FAILED, kind: 'server.failing', key: 'finding:12:not-a-finding' }, 1000));
    await store.transaction((r) => r.alerts.raise({ ...FAILED, kind: 'server.failing', key: 'appserver:12' }, 1000));
    const open = async () => (await store.alerts.list({ where: [], order: [], limit: 100, offset: 0 })).items.filter((a) => a.status !== 'CLEARED').map((a) => a.key).sort();
    const cleared = await store.transaction((r) => r.alerts.clearAll(['appserver:12'], 2000, { kind: 'inventory.finding', keyPrefix: 'finding:12:', except: ['finding:12:WAL_LEVEL_MINIMAL:main'] }));
    expect(cleared.map((a) => a.key)).toEqual(['finding:12:NO_ARCHIVE:main', 'finding:12:OLD:main', 'appserver:12']); // oldest first
    expect(await open()).toEqual(['finding:120:NO_ARCHIVE:main', 'finding:12:WAL_LEVEL_MINIMAL:main', 'finding:12:not-a-finding', 'finding:12;x', 'finding:1:NO_ARCHIVE:main'].sort());
    // With no keys and nothing excepted: every open finding under the prefix.
    const rest = await store.transaction((r) => r.alerts.clearAll([], 3000, { kind: 'inventory.finding', keyPrefix: 'finding:1:', except: [] }));
    expect(rest.map((a) => a.key)).toEqual(['finding:1:NO_ARCHIVE:main']);
    expect((await store.alerts.openOfKind('inventory.finding')).length).toBe(3);
  });

  it('clears any number of keys in one statement, and only those', async () => {
    const { store } = t;
    const keys = Array.from({ length: 2_500 }, (_, i) => `database:7:main/db${i}`);
    await store.transaction(async (r) => {
      for (const key of [...keys, 'database:7:main/kept']) await r.alerts.raise({ ...FAILED, kind: 'inventory.database-removed', key }, 1000);
    });
    const cleared = await store.transaction((r) => r.alerts.clearAll(keys, 2000));
    expect(cleared.map((a) => a.key).sort()).toEqual([...keys].sort());
    expect((await store.alerts.openOfKind('inventory.database-removed')).map((a) => a.key)).toEqual(['database:7:main/kept']);
  });

  it('acknowledges only an active alert', async () => {
    const { store } = t;
    const { alert } = await store.transaction((r) => r.alerts.raise(FAILED, 1000));
    expect(await store.alerts.acknowledge(alert.id, 'admin', 1500)).toMatchObject({ status: 'ACKNOWLEDGED', acknowledgedBy: 'admin' });
    expect(await store.alerts.acknowledge(alert.id, 'admin', 1600)).toBeUndefined();
    // Raising it again while acknowledged counts it and leaves it acknowledged.
    const again = await store.transaction((r) => r.alerts.raise(FAILED, 2000));
    expect(again).toMatchObject({ opened: false, alert: { status: 'ACKNOWLEDGED', count: 2 } });
  });

  it('queues a due delivery once however many planners take it, and records one attempt per queueing', async () => {
    const { store } = t;
    const n = await store.transaction((r) => r.notifications.add({ type: 'server.registered', data: { appserver: { id: 1, name: 'a', type: 'postgresql', host: 'h' } } }, 100));
    await store.transaction((r) => r.notifications.addDeliveries([
      { notificationId: n.id, channel: 'webhook', targetId: 1, target: 'http://127.0.0.1:1/', nextAttemptAt: 100, giveUpAt: 10_000 },
      { notificationId: n.id, channel: 'webhook', targetId: 2, target: 'http://127.0.0.1:2/', nextAttemptAt: 5_000, giveUpAt: 10_000 },
    ], 100));
    const taken = await Promise.all([1, 2, 3].map(() => store.transaction((r) => r.notifications.queueDue(200, 10))));
    const all = taken.flat();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ eventId: n.eventId, eventType: 'server.registered', status: 'QUEUED', targetId: 1 });
    const attempt = { at: 300, durationMs: 5, ok: false, statusCode: 503, response: 'busy', error: 'HTTP 503' };
    expect(await store.notifications.recordAttempt(all[0]!.id, { attempt, status: 'PENDING', nextAttemptAt: 400 })).toBe(true);
    expect(await store.notifications.recordAttempt(all[0]!.id, { attempt, status: 'PENDING', nextAttemptAt: 400 })).toBe(false);
    // The dispatcher's one look: the notification was never marked fanned out, none is QUEUED,
    // and the earliest PENDING delivery is the retried one.
    expect(await store.notifications.outlook()).toEqual({ undispatched: true, queued: false, nextDue: 400 });
    const d = await store.notifications.delivery(all[0]!.id);
    expect(d).toMatchObject({ status: 'PENDING', attempts: 1, lastError: 'HTTP 503' });
    expect(await store.notifications.attempts(d!.id)).toMatchObject([{ ok: false, statusCode: 503, response: 'busy' }]);
    // Fanned out, and the retry queued again: nothing to fan out, one QUEUED, the other PENDING next.
    await store.notifications.markDispatched([n.id], 500);
    expect(await store.transaction((r) => r.notifications.queueDue(400, 10))).toHaveLength(1);
    expect(await store.notifications.outlook()).toEqual({ undispatched: false, queued: true, nextDue: 5_000 });
  });
});
