/**
 * IBM sppmon's full run (`sppmon.py --all`) against Census, request for request as the spec
 * lists it (§8.1 for login, jobs, sessions and logs; §11.3 for the rest), as an administrator and
 * as a user holding only the Monitor role: every request answers 2xx, every list is read by
 * following links.nextPage.href, and every record carries each (dotted) field sppmon reads.
 *
 * The steps whose endpoints are still being built (sites, VADP proxies, the VM catalog and the
 * hypervisor search) run as soon as the served OpenAPI document lists their route, and are
 * skipped (with the reason) until then, so this file needs no edit when they land.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followPages, makeMonitorUser, missingFields, vmStatistics } from '../support/sppmon.ts';
import { ADMIN_PASSWORD, request, startTestServer, type TestServer } from '../support/server.ts';

const MONITOR_PASSWORD = 'Monitor-Pass-1234';
const ACCOUNTS = [{ user: 'admin', password: ADMIN_PASSWORD }, { user: 'sppmon', password: MONITOR_PASSWORD }];

/** The fields sppmon keeps from each record (spec §8.1 step 4–5, §11.3). */
const FIELDS = {
  sessions: ['id', 'jobId', 'jobName', 'start', 'end', 'duration', 'status', 'indexStatus', 'subPolicyType', 'type', 'numTasks', 'percent', 'properties.statistics'],
  logs: ['jobsessionId', 'logTime', 'id', 'messageId', 'message', 'messageParams', 'type'],
  sites: ['id', 'name', 'description', 'throttles'],
  storages: ['storageId', 'name', 'hostAddress', 'type', 'version', 'isReady', 'site', 'capacity.free', 'capacity.total', 'capacity.updateTime'],
  vadps: ['id', 'displayName', 'ipAddr', 'siteId', 'state', 'version'],
  children: ['id', 'catalogTime', 'isEncrypted', 'properties.name', 'properties.host', 'properties.vmVersion', 'properties.configInfo.osName',
    'properties.hypervisorType', 'properties.isProtected', 'properties.inHLO', 'properties.powerSummary.powerState', 'properties.powerSummary.uptime',
    'properties.storageSummary.commited', 'properties.storageSummary.uncommited', 'properties.storageSummary.shared', 'properties.datacenter.name',
    'properties.cpu', 'properties.coresPerCpu', 'properties.memory'],
  slapolicies: ['id', 'name'],
  storageprofiles: ['id', 'name', 'spec.subpolicy'],
  metrics: ['cpuUtil', 'memory.size', 'memory.util', 'data.size', 'data.util', 'data2.size', 'data2.util', 'data3.size', 'data3.util'],
  filesystems: ['name', 'type', 'status', 'totalSize', 'usedSize', 'availableSize', 'percentUsed'],
} as const;

/** sppmon always adds a messageId criterion with its CTGG ids, which SPP ignores, and so does Census (docs/compat.md). */
const SPPMON_MESSAGE_IDS = ['CTGGA2384', 'CTGGA0071'];

let srv: TestServer;
/** `get /api/site`, … : the operations the served OpenAPI document lists. */
let documented = new Set<string>();
// The data directory on the shared-memory tmpfs when there is one: Census's data then lives on two
// file systems, and sppmon pages through them.
const shm = (() => {
  try {
    return statSync('/dev/shm').dev !== statSync(tmpdir()).dev ? mkdtempSync('/dev/shm/census-sppmon-') : undefined;
  } catch {
    return undefined;
  }
})();

beforeAll(async () => {
  srv = await startTestServer(shm ? { dataDir: shm } : {});
  const admin = await srv.login();
  await makeMonitorUser(srv, admin, 'sppmon', MONITOR_PASSWORD);
  await srv.req('DELETE', '/api/endeavour/session', { sid: admin });
  const doc = (await srv.req('GET', '/api/openapi.json')).json as { paths: Record<string, Record<string, unknown>> };
  documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
});

afterAll(async () => {
  await srv?.stop();
  if (shm) rmSync(shm, { recursive: true, force: true });
});

/** Skips the rest of a step whose endpoint is not built yet; says which. */
const needs = (skip: (condition: boolean, note?: string) => void, operation: string) =>
  skip(!documented.has(operation), `${operation} is not in the OpenAPI document yet (being built in parallel)`);

const expectFields = (records: readonly unknown[], fields: readonly string[], what: string) => {
  for (const [i, r] of records.entries()) expect(missingFields(r, fields), `${what}[${i}] lacks`).toEqual([]);
};

describe('the VM statistics sppmon computes from the catalog', () => {
  it('counts VMs and power states and sums storage, vCPUs and memory, leaving unknown figures out of the sums', () => {
    const vm = (name: string, powerState: string | null, commited: number | null, cpu: number, memory: number, extra: Record<string, unknown> = {}) => ({
      id: name, isEncrypted: false,
      properties: { name, hypervisorType: 'kvm', isProtected: false, powerSummary: { powerState }, storageSummary: { commited, uncommited: 10, shared: null }, cpu, memory, ...extra },
    });
    const s = vmStatistics([
      vm('a', 'poweredOn', 100, 2, 1024),
      vm('b', 'POWERED_OFF', 50, 1, 512),
      vm('c', 'paused', null, 4, 2048, { hypervisorType: 'vmware', isProtected: true }),
    ]);
    expect(s).toMatchObject({
      vms: 3, poweredOn: 1, poweredOff: 1, otherPowerState: 1, protected: 1, encrypted: 0,
      commited: 150, commitedUnknown: 1, uncommited: 30, uncommitedUnknown: 0, shared: 0, sharedUnknown: 3,
      cpus: 7, memory: 3584, byHypervisorType: { kvm: 2, vmware: 1 },
    });
    expect(vmStatistics([])).toMatchObject({ vms: 0, poweredOn: 0, commited: 0 });
  });
});

describe.each(ACCOUNTS)('sppmon --all call sequence (spec §8.1, §11.3) as $user', (account) => {
  let sid = '';
  const sessionIds: string[] = [];

  it('logs in with POST /api/endeavour/session?pageSize=50, Basic auth and no body', async () => {
    const r = await srv.req('POST', '/api/endeavour/session?pageSize=50', { raw: '', auth: account, headers: { 'Content-Type': 'application/json', Accept: 'application/json' } });
    expect(r.status, r.text).toBe(200);
    expect(r.json.sessionid).toMatch(/^[0-9a-f]{32}$/);
    sid = r.json.sessionid;
  });

  it('reads /api/lifecycle/ping?pageSize=50 before sending its session', async () => {
    const r = await request(srv.url, 'GET', '/api/lifecycle/ping?pageSize=50', { headers: { Accept: 'application/json' }, exactHeaders: true });
    expect(r.status).toBe(200);
    expect(typeof r.json.version).toBe('string');
    expect(typeof r.json.build).toBe('string');
  });

  let jobs: { id: string; name: string }[] = [];

  it('reads the jobs, their session histories and their SUMMARY logs page by page', async () => {
    jobs = (await followPages(srv, sid, '/api/endeavour/job?pageSize=1', 'jobs')).items.map((j) => ({ id: String(j.id), name: String(j.name) }));
    expect(jobs.length).toBeGreaterThanOrEqual(2);
    for (const j of jobs) expect(j.id !== '' && j.name !== '', `job ${j.id}`).toBe(true);
    for (const job of jobs) {
      const { items } = await followPages(srv, sid, `/api/endeavour/jobsession/history/jobid/${job.id}?pageSize=1`, 'sessions');
      expectFields(items, FIELDS.sessions, `job ${job.id} sessions`);
      for (const s of items) {
        expect(typeof s.start, 'start is compared with >').toBe('number');
        expect(Number.isSafeInteger(parseInt(String(s.id), 10))).toBe(true);
        sessionIds.push(String(s.id));
      }
    }
    expect(sessionIds.length).toBeGreaterThanOrEqual(jobs.length);
    for (const id of sessionIds) {
      const filter = encodeURIComponent(JSON.stringify([
        { property: 'jobsessionId', value: id, op: '=' },
        { property: 'type', value: ['SUMMARY'], op: 'IN' },
        { property: 'messageId', value: SPPMON_MESSAGE_IDS, op: 'IN' },
      ]));
      const { items } = await followPages(srv, sid, `/api/endeavour/log/job?filter=${filter}&pageSize=2`, 'logs');
      expect(items.length, `SUMMARY log of session ${id}`).toBeGreaterThanOrEqual(1);
      expectFields(items, FIELDS.logs, `session ${id} logs`);
    }
  });

  it('reads /api/site → sites', async ({ skip }) => {
    needs(skip, 'get /api/site');
    const { items } = await followPages(srv, sid, '/api/site?pageSize=1', 'sites');
    expect(items.length, 'the default site').toBeGreaterThanOrEqual(1);
    expectFields(items, FIELDS.sites, 'sites');
  });

  it('reads /ngp/metrics → one object with CPU, memory and the data file systems', async () => {
    const r = await srv.req('GET', '/ngp/metrics?pageSize=50', { sid });
    expect(r.status, r.text).toBe(200);
    expect(missingFields(r.json, FIELDS.metrics)).toEqual([]);
    const m = r.json;
    expect(m.cpuUtil === null || (typeof m.cpuUtil === 'number' && m.cpuUtil >= 0 && m.cpuUtil <= 100)).toBe(true);
    // On SQLite every figure is known: the data dir, the database in it, and the temp dir.
    for (const k of ['memory', 'data', 'data2', 'data3']) {
      expect(m[k].size, `${k}.size`).toBeGreaterThan(0);
      expect(m[k].util, `${k}.util`).toBeGreaterThanOrEqual(0);
      expect(m[k].util, `${k}.util`).toBeLessThanOrEqual(100);
    }
  });

  it('reads /api/endeavour/sysdiag/filesystem → filesystems, page by page', async () => {
    const { items, pages } = await followPages(srv, sid, '/api/endeavour/sysdiag/filesystem?pageSize=1', 'filesystems');
    // sppmon's sppcatalog step stores only SPP's catalog names, and stops on any other.
    expect(items.map((f) => f.name)).toEqual(['Configuration', 'Catalog', 'System']);
    expect(pages.length).toBe(3);
    expectFields(items, FIELDS.filesystems, 'filesystems');
    for (const f of items) {
      expect(['NORMAL', 'WARNING']).toContain(f.status);
      for (const k of ['totalSize', 'usedSize', 'availableSize']) expect(Number.isInteger(f[k]), k).toBe(true);
      expect(typeof f.percentUsed).toBe('number');
    }
  });

  it('reads /api/vadp → vadps', async ({ skip }) => {
    needs(skip, 'get /api/vadp');
    const { items } = await followPages(srv, sid, '/api/vadp?pageSize=1', 'vadps');
    expectFields(items, FIELDS.vadps, 'vadps');
  });

  it('reads /api/storage → storages (empty: Census keeps no backups)', async () => {
    const { items, pages } = await followPages(srv, sid, '/api/storage?pageSize=50', 'storages');
    expect(items).toEqual([]);
    expect(pages[0]!.json.total).toBe(0);
    expectFields(items, FIELDS.storages, 'storages');
  });

  it('reads /api/endeavour/catalog/hypervisor/vm?embed=(children(properties)) → children, and computes its VM statistics', async ({ skip }) => {
    needs(skip, 'get /api/endeavour/catalog/hypervisor/vm');
    const { items, pages } = await followPages(srv, sid, '/api/endeavour/catalog/hypervisor/vm?embed=(children(properties))&pageSize=1', 'children');
    expectFields(items, FIELDS.children, 'children');
    expect(items.length).toBe(pages[0]!.json.total);
    const stats = vmStatistics(items);
    expect(stats.vms).toBe(items.length);
    expect(stats.poweredOn + stats.poweredOff + stats.otherPowerState).toBe(stats.vms);
    // The values against a libvirt fixture's known domains are checked at integration (issue 12, point 7).
  });

  const slapolicies: Record<string, unknown>[] = [];

  it('reads /ngp/slapolicy → slapolicies (empty: Census has no SLA policies)', async () => {
    const { items, pages } = await followPages(srv, sid, '/ngp/slapolicy?pageSize=50', 'slapolicies');
    expect(items).toEqual([]);
    expect(pages[0]!.json.total).toBe(0);
    expectFields(items, FIELDS.slapolicies, 'slapolicies');
    slapolicies.push(...items);
  });

  it('searches the VMs of each SLA policy with POST /api/hypervisor/search, reading total', async ({ skip }) => {
    needs(skip, 'post /api/hypervisor/search');
    // sppmon asks once per policy; Census has none, so the call is made as sppmon would for one named Gold as well.
    for (const name of [...slapolicies.map((p) => String(p.name)), 'Gold']) {
      const filter = encodeURIComponent(JSON.stringify([{ property: 'storageProfileName', value: name, op: '=' }]));
      const r = await srv.req('POST', `/api/hypervisor/search?resourceType=vm&from=hlo&pageSize=1&filter=${filter}`, { sid, body: { name: '*', hypervisorType: 'vmware' } });
      expect(r.status, r.text).toBeGreaterThanOrEqual(200);
      expect(r.status, r.text).toBeLessThan(300);
      expect(Number.isInteger(r.json.total), `total for ${name}`).toBe(true);
    }
  });

  it('reads /api/spec/storageprofile → storageprofiles (empty)', async () => {
    const { items, pages } = await followPages(srv, sid, '/api/spec/storageprofile?pageSize=50', 'storageprofiles');
    expect(items).toEqual([]);
    expect(pages[0]!.json.total).toBe(0);
    expectFields(items, FIELDS.storageprofiles, 'storageprofiles');
  });

  it('pings once more and logs out with exactly 204', async () => {
    expect((await srv.req('GET', '/api/lifecycle/ping', { sid })).status).toBe(200);
    const r = await srv.req('DELETE', '/api/endeavour/session', { sid });
    expect(r.status).toBe(204);
    expect((await srv.req('GET', '/ngp/metrics', { sid })).status).toBe(401);
  });
});
