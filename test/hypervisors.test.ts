/**
 * Hypervisors on SPP's wire (/api/hypervisor, /ngp/hypervisor), the Hypervisor Inventory (job
 * 1005) and the VM catalog (GET /api/endeavour/catalog/hypervisor/vm, POST /api/hypervisor/search),
 * through a real Census over HTTPS.
 *
 * The `kvm` collector here is a STAND-IN for libvirt, used only by these wire and engine tests:
 * it answers from a table in this file, so that the tests can change VMs between runs and make
 * one host fail. It is passed in through the injectable registry (collectorRegistry(list)) in
 * place of the real kvm collector; the real end-to-end test against libvirtd over SSH uses the
 * real collector (src/collectors/kvm/).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorRegistry } from '../src/collectors/registry.ts';
import { CollectorError, type CollectedDatabase, type Collector, type CollectTarget } from '../src/collectors/types.ts';
import { runInventory, startTestServer, waitFor, type TestServer } from './support/server.ts';

const PASSWORD = 'Hyper-Visor-Pass-1';
const NEW_PASSWORD = 'Hyper-Visor-Pass-2';

/** What each stand-in host has: its VMs, or a failure. */
const hosts = new Map<string, { vms: CollectedDatabase[]; fail?: string }>();
/** The targets the stand-in was called with (to see the URI arrive). */
const calls: CollectTarget[] = [];

const vm = (name: string, o: { state?: string; vcpus?: number; memoryBytes?: number; disks?: { target: string; path: string; alloc: number; virt: number }[] } = {}): CollectedDatabase => {
  const disks = (o.disks ?? [{ target: 'vda', path: `/var/lib/libvirt/images/${name}.qcow2`, alloc: 200 << 20, virt: 1 << 30 }]).map((d) => ({
    target: d.target, device: 'disk', bus: 'virtio', path: d.path, format: 'qcow2', virtualBytes: d.virt, allocationBytes: d.alloc, physicalBytes: d.alloc,
  }));
  return {
    name, owner: null, encoding: null, sizeBytes: disks.reduce((n, d) => n + d.allocationBytes, 0),
    properties: {
      uuid: `uuid-${name}`, state: o.state ?? 'running', vcpus: o.vcpus ?? 2, maxVcpus: 4, memoryBytes: o.memoryBytes ?? 1 << 30, maxMemoryBytes: 2 << 30,
      osType: 'hvm', arch: 'x86_64', machine: 'pc-q35-7.2', domainType: 'kvm', persistent: true, autostart: false, title: null, description: null,
      disks, interfaces: [{ type: 'network', mac: '52:54:00:00:00:01', model: 'virtio', source: 'default' }],
    },
  };
};

const standIn: Collector = {
  applicationType: 'kvm',
  info: {
    type: 'kvm', displayName: 'KVM (test stand-in)', group: 'hypervisors', defaultPort: 22, childTypes: ['vm'],
    identityKinds: ['password', 'key'], tls: false, defaultUri: 'qemu:///system', checks: [{ name: 'connect', description: 'SSH to the host' }],
  },
  async collect(target) {
    calls.push(target);
    const h = hosts.get(target.host);
    if (!h) throw new CollectorError('REFUSED', `${target.name} (${target.host}): no such host`);
    if (h.fail) throw new CollectorError('AUTH', `${target.name} (${target.host}): ${h.fail}`);
    return {
      instances: [{ name: target.host, host: target.host, port: target.port ?? 22, version: 'libvirt 9.0.0, QEMU 7.2.0', properties: { hypervisorType: 'QEMU', uri: target.uri ?? 'qemu:///system' }, databases: h.vms }],
      warnings: [],
    };
  },
  async test(target) {
    return [{ name: 'connect', description: 'SSH to the host', status: hosts.has(target.host) ? 'SUCCESS' : 'FAILED' }];
  },
};

/** The real collectors but kvm, which is the stand-in. */
const registry = collectorRegistry([...[...collectorRegistry().values()].filter((c) => c.info.type !== 'kvm'), standIn]);

describe('hypervisors', () => {
  let s: TestServer;
  let admin: string;
  let identityHref: string;

  const q = (v: unknown) => encodeURIComponent(JSON.stringify(v));
  const job = async (id: number) => (await s.req('GET', `/api/endeavour/job/${id}`, { sid: admin })).json;
  /** Waits until job `id` is not RUNNING and answers its last session. */
  const settled = async (id: number) => waitFor(async () => {
    const j = await job(id);
    return j.status === 'RUNNING' || !j.lastrun ? undefined : j.lastrun;
  }, `job ${id} to settle`);
  const endedSession = (sessionId: string) => waitFor(async () => {
    const r = await s.req('GET', `/api/endeavour/jobsession/${sessionId}`, { sid: admin });
    return r.json.status === 'RUNNING' ? undefined : r.json;
  }, `session ${sessionId}`);
  const run1005 = async () => {
    const started = await s.req('POST', '/api/endeavour/job/1005?action=start', { sid: admin });
    expect(started.status, started.text).toBe(200);
    return endedSession(started.json.lastrun.sessionId as string);
  };
  const taskNames = async (sessionId: string) =>
    ((await s.req('GET', `/api/endeavour/jobsession/${sessionId}/task`, { sid: admin })).json.tasks as { name: string }[]).map((t) => t.name).sort();

  async function user(name: string, sets: { resourcePoolId: number; roleIds: number[] }[]): Promise<string> {
    const made = await s.req('POST', '/api/security/user', { sid: admin, body: { name, password: PASSWORD, permissions: sets } });
    expect(made.status, made.text).toBe(201);
    const login = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: name, password: PASSWORD }, body: { newPassword: NEW_PASSWORD } });
    expect(login.status, login.text).toBe(200);
    return login.json.sessionid as string;
  }

  beforeAll(async () => {
    hosts.set('10.0.0.1', { vms: [vm('web1'), vm('db1', { state: 'shutoff' }), vm('cache1', { state: 'paused' })] });
    hosts.set('10.0.0.2', { vms: [vm('build1')] });
    s = await startTestServer({ collectors: registry });
    admin = await s.login();
    const ident = await s.req('POST', '/api/identity/user', { sid: admin, body: { name: 'kvm login', username: 'root', password: 'secret-kvm-1' } });
    expect(ident.status, ident.text).toBe(201);
    identityHref = ident.json.links.self.href;
  });
  afterAll(async () => s?.stop());

  let kvm1: string;
  let kvm2: string;
  let app: string;

  it('has the Hypervisor Inventory as system job 1005, run once at the first start', async () => {
    const j = await job(1005);
    expect(j).toMatchObject({ id: '1005', name: 'Hypervisor Inventory', type: 'catalog', subType: 'hypervisor', serviceId: 'serviceprovider.catalog.hypervisor' });
    expect(j.status).toBe('IDLE');
    expect(j.lastrun.status).toBe('COMPLETED');
    const list = (await s.req('GET', '/api/endeavour/job', { sid: admin })).json.jobs.map((x: { id: string }) => x.id);
    expect(list).toEqual(['1001', '1004', '1005', '1006']);
    const trigger = (await s.req('GET', '/api/endeavour/job/1005/trigger', { sid: admin })).json;
    expect(JSON.stringify(trigger)).toContain('00:30');
  });

  it('registers on /api/hypervisor with an identity href, answers SPP fields, and starts its inventory', async () => {
    const r = await s.req('POST', '/api/hypervisor', {
      sid: admin, body: { name: 'kvm1', hostAddress: '10.0.0.1', type: 'kvm', portNumber: 22, user: { href: identityHref }, uri: 'test:///default' },
    });
    expect(r.status, r.text).toBe(201);
    kvm1 = r.json.id;
    expect(r.headers.location).toBe(`${s.url}/api/hypervisor/${kvm1}`);
    expect(r.json).toMatchObject({
      name: 'kvm1', hostAddress: '10.0.0.1', type: 'kvm', portNumber: 22, uri: 'test:///default', user: { href: identityHref },
      resourceType: 'hypervisor', rbacPath: `root:0/hypervisor.all:0/hypervisor:${kvm1}`, siteId: '1000', siteName: 'Primary', useKeyAuthentication: false,
    });
    expect(Object.keys(r.json.links)).toEqual(expect.arrayContaining(['self', 'edit', 'delete', 'vms', 'test']));
    // Registration started job 1005 for it; the URI reached the collector.
    const last = await settled(1005);
    expect(last.status).toBe('COMPLETED');
    expect(await taskNames(last.sessionId)).toEqual(['kvm1']);
    expect(calls.at(-1)).toMatchObject({ host: '10.0.0.1', uri: 'test:///default', username: 'root', password: 'secret-kvm-1' });
    const got = await s.req('GET', `/api/hypervisor/${kvm1}`, { sid: admin });
    expect(got.json.version).toBe('libvirt 9.0.0, QEMU 7.2.0');
  });

  it('registers on /ngp/hypervisor with inline credentials, wrapped the NodeJS way', async () => {
    const r = await s.req('POST', '/ngp/hypervisor', { sid: admin, body: { name: 'kvm2', hostAddress: '10.0.0.2', type: 'kvm', username: 'root', password: 'secret-kvm-2', addToCatJob: false } });
    expect(r.status, r.text).toBe(201);
    expect(r.json.statusCode).toBe(201);
    kvm2 = r.json.response.id;
    expect(r.json.response).toMatchObject({ name: 'kvm2', type: 'kvm', uri: null, version: null });
    expect(r.json.response.user.href).toMatch(/\/api\/identity\/user\/\d+$/);
  });

  it('refuses unknown types naming the known ones, SPP types not supported yet, and a hypervisor at /api/appserver', async () => {
    const hyperv = await s.req('POST', '/api/hypervisor', { sid: admin, body: { hostAddress: '10.0.0.9', type: 'hyperv', user: { href: identityHref } } });
    expect(hyperv.status).toBe(400);
    expect(hyperv.json.id).toBe('XSBInvalidArgumentException');
    expect(hyperv.json.description).toMatch(/"hyperv" is not supported yet; Census can inventory: .*kvm/);
    expect(hyperv.json.description).toContain('vmware');
    const odd = await s.req('POST', '/api/hypervisor', { sid: admin, body: { hostAddress: '10.0.0.9', type: 'xen', user: { href: identityHref } } });
    expect(odd.status).toBe(400);
    expect(odd.json.description).toMatch(/Unknown hypervisor type "xen".*kvm/);
    const pg = await s.req('POST', '/api/hypervisor', { sid: admin, body: { hostAddress: '10.0.0.9', type: 'postgresql', user: { href: identityHref } } });
    expect(pg.status).toBe(400);
    const noType = await s.req('POST', '/api/hypervisor', { sid: admin, body: { hostAddress: '10.0.0.9', user: { href: identityHref } } });
    expect(noType.status).toBe(400);
    const asApp = await s.req('POST', '/api/appserver', { sid: admin, body: { hostAddress: '10.0.0.9', applicationType: 'kvm', osuser: { href: identityHref } } });
    expect(asApp.status).toBe(400);
    expect(asApp.json.description).toMatch(/hypervisor type: register it at \/api\/hypervisor/);
    const badUri = await s.req('POST', '/api/hypervisor', { sid: admin, body: { hostAddress: '10.0.0.9', type: 'kvm', user: { href: identityHref }, uri: 'not a uri' } });
    expect(badUri.status).toBe(400);
    expect(badUri.json.description).toMatch(/libvirt URI/);
    const dup = await s.req('POST', '/api/hypervisor', { sid: admin, body: { name: 'other', hostAddress: '10.0.0.1', type: 'kvm', portNumber: 22, user: { href: identityHref } } });
    expect(dup.status).toBe(409);
  });

  it('keeps application servers and hypervisors apart: lists, gets and both inventory jobs', async () => {
    const reg = await s.req('POST', '/api/appserver', { sid: admin, body: { name: 'pg', hostAddress: '127.0.0.1', portNumber: 5432, applicationType: 'postgresql', osuser: { href: identityHref } } });
    expect(reg.status, reg.text).toBe(201);
    app = reg.json.id;
    for (const prefix of ['/api', '/ngp']) {
      const hv = await s.req('GET', `${prefix}/hypervisor`, { sid: admin });
      expect(hv.status).toBe(200);
      expect(hv.json.total).toBe(2);
      expect(hv.json.hypervisors.map((h: { name: string }) => h.name)).toEqual(['kvm1', 'kvm2']);
      const apps = await s.req('GET', `${prefix}/appserver`, { sid: admin });
      expect(apps.json.appservers.map((a: { name: string }) => a.name)).toEqual(['pg']);
      expect((await s.req('GET', `${prefix}/appserver/${kvm1}`, { sid: admin })).status).toBe(404);
      const other = await s.req('GET', `${prefix}/hypervisor/${app}`, { sid: admin });
      expect(other.status).toBe(404);
      expect(JSON.stringify(other.json)).toContain('XSBObjectNotFoundException');
    }
    expect((await s.req('PUT', `/api/appserver/${kvm1}`, { sid: admin, body: { name: 'x' } })).status).toBe(404);
    expect((await s.req('DELETE', `/api/hypervisor/${app}`, { sid: admin })).status).toBe(404);

    const appRun = await runInventory(s, admin);
    expect(await taskNames(appRun.id)).toEqual(['pg']);
    const hvRun = await run1005();
    expect(await taskNames(hvRun.id)).toEqual(['kvm1', 'kvm2']);
    expect(hvRun.status).toBe('COMPLETED');
  });

  it('filters, sorts and pages the hypervisor list', async () => {
    const r = await s.req('GET', `/api/hypervisor?pageSize=1&sort=${q([{ property: 'name', direction: 'DESC' }])}&filter=${q([{ property: 'type', value: 'kvm' }])}`, { sid: admin });
    expect(r.json.total).toBe(2);
    expect(r.json.hypervisors.map((h: { name: string }) => h.name)).toEqual(['kvm2']);
    expect(r.json.links.nextPage.href).toContain('pageStartIndex=1');
    const next = await s.req('GET', r.json.links.nextPage.href, { sid: admin });
    expect(next.json.hypervisors.map((h: { name: string }) => h.name)).toEqual(['kvm1']);
    expect(next.json.links.nextPage).toBeUndefined();
  });

  it('job 1005: RUNNING while its session runs, PARTIAL when one hypervisor fails, change history per run', async () => {
    // kvm1 changes: web1 gets more vCPUs and memory and a second disk, cache1 resumes, db1 goes, new1 appears.
    hosts.set('10.0.0.1', {
      vms: [
        vm('web1', { vcpus: 4, memoryBytes: 2 << 30, disks: [
          { target: 'vda', path: '/var/lib/libvirt/images/web1.qcow2', alloc: 200 << 20, virt: 1 << 30 },
          { target: 'vdb', path: '/var/lib/libvirt/images/web1-data.qcow2', alloc: 10 << 20, virt: 1 << 30 },
        ] }),
        vm('cache1', { state: 'running' }),
        vm('new1'),
      ],
    });
    hosts.set('10.0.0.2', { vms: [vm('build1')], fail: 'wrong password' });
    const started = await s.req('POST', '/api/endeavour/job/1005?action=start', { sid: admin });
    expect(started.status).toBe(200);
    const session = await endedSession(started.json.lastrun.sessionId);
    expect(session.status).toBe('PARTIAL');
    const j = await job(1005);
    expect(j.status).toBe('IDLE');
    expect(j.lastrun.status).toBe('PARTIAL');
    const logs = (await s.req('GET', `/api/endeavour/log/job?pageSize=1000&filter=${q([{ property: 'jobsessionId', value: session.id }])}`, { sid: admin })).json.logs as { message: string; type: string }[];
    expect(logs.some((l) => l.type === 'ERROR' && /Inventory of hypervisor kvm2 failed: .*wrong password/.test(l.message))).toBe(true);
    const changes = (await s.req('GET', `/api/endeavour/jobsession/${session.id}/change?pageSize=100`, { sid: admin })).json.changes as { objectName: string; change: string; field: string | null; oldValue: string | null; newValue: string | null }[];
    const has = (name: string, change: string, field: string | null = null) => changes.some((c) => c.objectName === name && c.change === change && c.field === field);
    expect(has('new1', 'appeared')).toBe(true);
    expect(has('db1', 'disappeared')).toBe(true);
    expect(has('web1', 'changed', 'vcpus')).toBe(true);
    expect(has('web1', 'changed', 'memoryBytes')).toBe(true);
    expect(has('web1', 'changed', 'disks')).toBe(true);
    expect(changes.find((c) => c.objectName === 'cache1' && c.field === 'state')).toMatchObject({ oldValue: 'paused', newValue: 'running' });
    expect(changes.some((c) => c.objectName === 'build1')).toBe(false);
    hosts.set('10.0.0.2', { vms: [vm('build1')] });

    // While a session runs the job says RUNNING (the stand-in holds the next run until released).
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const collect = standIn.collect;
    standIn.collect = async (t, o) => { await gate; return collect(t, o); };
    try {
      const next = await s.req('POST', '/api/endeavour/job/1005?action=start', { sid: admin });
      expect((await job(1005)).status).toBe('RUNNING');
      release();
      expect((await endedSession(next.json.lastrun.sessionId)).status).toBe('COMPLETED');
    } finally {
      release();
      standIn.collect = collect;
    }
  });

  it('serves the VM catalog with the fields sppmon reads, paged like other collections', async () => {
    const r = await s.req('GET', '/api/endeavour/catalog/hypervisor/vm?embed=(children(properties))&pageSize=2', { sid: admin });
    expect(r.status, r.text).toBe(200);
    expect(r.json.total).toBe(4); // web1, cache1, new1 on kvm1; build1 on kvm2
    expect(r.json.children).toHaveLength(2);
    expect(r.json.links.nextPage.href).toContain('pageStartIndex=2');
    const all: any[] = [...r.json.children, ...(await s.req('GET', r.json.links.nextPage.href, { sid: admin })).json.children];
    expect(all.map((v) => v.properties.name).sort()).toEqual(['build1', 'cache1', 'new1', 'web1']);
    const web1 = all.find((v) => v.properties.name === 'web1');
    expect(web1).toMatchObject({
      isEncrypted: null,
      properties: {
        name: 'web1', host: 'kvm1', vmVersion: 'pc-q35-7.2', configInfo: { osName: null }, hypervisorType: 'kvm', isProtected: false, inHLO: false,
        powerSummary: { powerState: 'POWERED_ON', uptime: null },
        storageSummary: { commited: 210 << 20, uncommited: 2 * (1 << 30) - (210 << 20), shared: null },
        datacenter: { name: 'Primary' }, cpu: 4, coresPerCpu: null, memory: 2 << 30,
      },
    });
    expect(typeof web1.catalogTime).toBe('number');
    expect(web1.id).toMatch(/^\d+$/);
    const byName = await s.req('GET', `/api/endeavour/catalog/hypervisor/vm?filter=${q([{ property: 'host', value: 'kvm2' }])}`, { sid: admin });
    expect(byName.json.children.map((v: any) => v.properties.name)).toEqual(['build1']);
    const sla = await s.req('GET', `/api/endeavour/catalog/hypervisor/vm?filter=${q([{ property: 'storageProfileName', value: 'Gold', op: '=' }])}`, { sid: admin });
    expect(sla.json.total).toBe(0);
    expect(sla.json.children).toEqual([]);
  });

  it('maps libvirt states to SPP power states', async () => {
    hosts.set('10.0.0.2', { vms: [vm('build1', { state: 'shutoff' }), vm('p1', { state: 'paused' }), vm('s1', { state: 'pmsuspended' }), vm('x1', { state: 'nostate' })] });
    expect((await s.req('POST', `/api/hypervisor/${kvm2}?action=inventory`, { sid: admin })).status).toBe(200);
    await settled(1005);
    const r = await s.req('GET', `/api/endeavour/catalog/hypervisor/vm?filter=${q([{ property: 'host', value: 'kvm2' }])}&sort=${q([{ property: 'name', direction: 'ASC' }])}`, { sid: admin });
    expect(r.json.children.map((v: any) => [v.name, v.properties.powerSummary.powerState])).toEqual([
      ['build1', 'POWERED_OFF'], ['p1', 'SUSPENDED'], ['s1', 'SUSPENDED'], ['x1', null],
    ]);
  });

  it('searches VMs with POST /api/hypervisor/search, answering total the way sppmon reads it', async () => {
    const all = await s.req('POST', '/api/hypervisor/search?resourceType=vm&from=hlo&pageSize=1', { sid: admin, body: { name: '*', hypervisorType: 'kvm' } });
    expect(all.status, all.text).toBe(200);
    expect(all.json.total).toBe(7);
    expect(all.json.vms).toHaveLength(1);
    expect(all.json.links.nextPage).toBeDefined();
    const pattern = await s.req('POST', '/api/hypervisor/search?resourceType=vm', { sid: admin, body: { name: '*1' } });
    expect(pattern.json.vms.map((v: any) => v.name).sort()).toEqual(['build1', 'cache1', 'new1', 'p1', 's1', 'web1', 'x1']);
    const web = await s.req('POST', '/api/hypervisor/search?resourceType=vm', { sid: admin, body: { name: 'web*' } });
    expect(web.json.vms.map((v: any) => v.name)).toEqual(['web1']);
    // sppmon's per-SLA count: VMware VMs under an SLA — Census has neither.
    const sppmon = await s.req('POST', `/api/hypervisor/search?resourceType=vm&from=hlo&pageSize=1&filter=${q([{ property: 'storageProfileName', value: 'Gold', op: '=' }])}`, { sid: admin, body: { name: '*', hypervisorType: 'vmware' } });
    expect(sppmon.status).toBe(200);
    expect(sppmon.json.total).toBe(0);
    const filtered = await s.req('POST', `/api/hypervisor/search?resourceType=vm&filter=${q([{ property: 'host', value: 'kvm1' }])}`, { sid: admin, body: {} });
    expect(filtered.json.total).toBe(3);
    const wrong = await s.req('POST', '/api/hypervisor/search?resourceType=volume', { sid: admin, body: {} });
    expect(wrong.status).toBe(400);
  });

  it('updates, tests and unregisters on both prefixes', async () => {
    const put = await s.req('PUT', `/api/hypervisor/${kvm1}`, { sid: admin, body: { name: 'kvm-one', uri: 'qemu:///session', comment: 'rack 4' } });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ id: kvm1, name: 'kvm-one', uri: 'qemu:///session', comment: 'rack 4', hostAddress: '10.0.0.1' });
    const ngpPut = await s.req('PUT', `/ngp/hypervisor/${kvm1}`, { sid: admin, body: { name: 'kvm1' } });
    expect(ngpPut.json).toMatchObject({ statusCode: 200, response: { name: 'kvm1', uri: 'qemu:///session' } });
    const typeChange = await s.req('PUT', `/api/hypervisor/${kvm1}`, { sid: admin, body: { type: 'vmware' } });
    expect(typeChange.status).toBe(400);

    const test = await s.req('POST', `/api/hypervisor/${kvm1}?action=test`, { sid: admin, body: { type: 'hypervisor' } });
    expect(test.status, test.text).toBe(200);
    expect(test.json.testsComplete).toBe(true);
    expect(test.json.configGroups[0].tests).toEqual([expect.objectContaining({ name: 'connect', status: 'SUCCESS' })]);
    const again = await s.req('GET', test.json.statusHref, { sid: admin });
    expect(again.json.configGroups[0].tests[0].status).toBe('SUCCESS');
    expect((await s.req('POST', `/ngp/hypervisor/${kvm1}?action=test`, { sid: admin })).status).toBe(200);
    expect((await s.req('POST', `/api/hypervisor/${kvm1}?action=dance`, { sid: admin })).status).toBe(400);

    const audit = (await s.req('GET', `/api/endeavour/log/audit?pageSize=1000&filter=${q([{ property: 'targetType', value: 'hypervisor' }])}`, { sid: admin })).json;
    const actions = JSON.stringify(audit);
    expect(actions).toContain('hypervisor.register');
    expect(actions).toContain('hypervisor.update');
    expect(actions).not.toContain('secret-kvm');

    const extra = await s.req('POST', '/api/hypervisor', { sid: admin, body: { name: 'kvm3', hostAddress: '10.0.0.3', type: 'kvm', user: { href: identityHref }, addToCatJob: false } });
    expect((await s.req('DELETE', `/ngp/hypervisor/${extra.json.id}`, { sid: admin })).status).toBe(204);
    expect((await s.req('GET', `/api/hypervisor/${extra.json.id}`, { sid: admin })).status).toBe(404);
  });

  it('permissions: a Monitor views but cannot register; a group-limited user sees only their hypervisor and its VMs', async () => {
    const monitor = await user('hv-monitor', [{ resourcePoolId: 1000, roleIds: [1002] }]);
    expect((await s.req('GET', '/api/hypervisor', { sid: monitor })).json.total).toBe(2);
    expect((await s.req('GET', '/api/endeavour/catalog/hypervisor/vm', { sid: monitor })).status).toBe(200);
    const refused = await s.req('POST', '/api/hypervisor', { sid: monitor, body: { hostAddress: '10.0.0.5', type: 'kvm', user: { href: identityHref } } });
    expect(refused.status).toBe(403);
    expect(refused.json.id).toBe('XSBAccessDeniedException');
    expect((await s.req('DELETE', `/api/hypervisor/${kvm1}`, { sid: monitor })).status).toBe(403);
    // A Monitor has no appserver.view: the application servers stay out of reach.
    expect((await s.req('GET', '/api/appserver', { sid: monitor })).status).toBe(403);

    const group = await s.req('POST', '/api/security/resourcepool', { sid: admin, body: { name: 'kvm team', resources: [{ href: `${s.url}/api/hypervisor/${kvm2}` }] } });
    expect(group.status, group.text).toBe(201);
    expect(group.json.resources).toEqual([expect.objectContaining({ id: kvm2, name: 'kvm2', type: 'hypervisor', href: `${s.url}/api/hypervisor/${kvm2}` })]);
    const op = await user('hv-operator', [{ resourcePoolId: Number(group.json.id), roleIds: [1003] }]);
    expect((await s.req('GET', '/api/hypervisor', { sid: op })).json.hypervisors.map((h: { name: string }) => h.name)).toEqual(['kvm2']);
    expect((await s.req('GET', `/api/hypervisor/${kvm1}`, { sid: op })).status).toBe(404);
    const vms = (await s.req('GET', '/api/endeavour/catalog/hypervisor/vm', { sid: op })).json;
    expect(vms.children.map((v: any) => v.properties.host)).toEqual(['kvm2', 'kvm2', 'kvm2', 'kvm2']);
    expect((await s.req('POST', '/api/hypervisor/search?resourceType=vm', { sid: op, body: {} })).json.total).toBe(4);
    // Their start of job 1005 covers their hypervisor only.
    const started = await s.req('POST', '/api/endeavour/job/1005?action=start', { sid: op });
    expect(started.status, started.text).toBe(200);
    const session = await endedSession(started.json.lastrun.sessionId);
    expect(await taskNames(session.id)).toEqual(['kvm2']);
  });

  it('unregistering takes a hypervisor and its VMs out of the list and the catalog', async () => {
    expect((await s.req('DELETE', `/api/hypervisor/${kvm2}`, { sid: admin })).status).toBe(204);
    expect((await s.req('GET', '/api/hypervisor', { sid: admin })).json.total).toBe(1);
    const left = (await s.req('GET', '/api/endeavour/catalog/hypervisor/vm', { sid: admin })).json;
    expect(left.children.every((v: any) => v.properties.host === 'kvm1')).toBe(true);
  });
});
