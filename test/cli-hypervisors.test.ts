/**
 * `census hypervisor …`, `census vm list`, `census site …` and `census worker list` as an operator
 * runs them: real child processes against a real Census over HTTPS (its self-signed certificate
 * pinned with --insecure), HOME in a temp dir.
 *
 * The `kvm` collector here is a STAND-IN for libvirt (as in test/hypervisors.test.ts): it answers
 * from a table in this file so that hosts, VMs and failures are what the test says. It is passed
 * in through the injectable registry in place of the real kvm collector; the real collector
 * against libvirtd is tested in the kvm collector's own tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorRegistry } from '../src/collectors/registry.ts';
import { CollectorError, type CollectedDatabase, type Collector } from '../src/collectors/types.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { runCli as run } from './support/cli.ts';

/** What each stand-in host has; a host not in the map refuses the connection. */
const hosts = new Map<string, CollectedDatabase[]>();

const GiB = 1 << 30;
const vm = (name: string, state: string, vcpus = 2): CollectedDatabase => ({
  name, owner: null, encoding: null, sizeBytes: 200 << 20,
  properties: {
    uuid: `uuid-${name}`, state, vcpus, maxVcpus: 4, memoryBytes: GiB, maxMemoryBytes: 2 * GiB, osType: 'hvm', arch: 'x86_64', machine: 'pc-q35-7.2',
    disks: [{ target: 'vda', device: 'disk', bus: 'virtio', path: `/var/lib/libvirt/images/${name}.qcow2`, format: 'qcow2', virtualBytes: GiB, allocationBytes: 200 << 20, physicalBytes: 200 << 20 }],
    interfaces: [],
  },
});

const standIn: Collector = {
  applicationType: 'kvm',
  info: {
    type: 'kvm', displayName: 'KVM (test stand-in)', group: 'hypervisors', defaultPort: 22, childTypes: ['vm'],
    identityKinds: ['password', 'key'], tls: false, defaultUri: 'qemu:///system', checks: [{ name: 'connect', description: 'SSH to the host' }],
  },
  async collect(target) {
    const vms = hosts.get(target.host);
    if (!vms) throw new CollectorError('REFUSED', `${target.name} (${target.host}): connection refused`);
    return {
      instances: [{ name: target.host, host: target.host, port: target.port ?? 22, version: 'libvirt 9.0.0, QEMU 7.2.0', properties: { hypervisorType: 'QEMU' }, databases: vms }],
      warnings: [],
    };
  },
  async test(target) {
    return hosts.has(target.host)
      ? [{ name: 'connect', description: 'SSH to the host', status: 'SUCCESS' }]
      : [{ name: 'connect', description: 'SSH to the host', status: 'FAILED', message: `${target.host}: connection refused` }];
  },
};

const registry = collectorRegistry([...[...collectorRegistry().values()].filter((c) => c.info.type !== 'kvm'), standIn]);

/** More VMs than one page of the catalog (500), every third one off. */
const BIG = 620;

describe('census hypervisor, vm, site and worker', () => {
  let s: TestServer;
  let home: string;
  let asAdmin: Record<string, string>;
  let asMonitor: Record<string, string>;

  const ok = async (args: string[], o: { env?: Record<string, string>; input?: string } = {}) => {
    const r = await run(home, args, { env: asAdmin, ...o });
    expect(r.code, `census ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0);
    return r;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json = async (args: string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<any> => JSON.parse((await ok([...args, '--json'], o)).stdout);
  const fails = async (args: string[], code: number, o: { env?: Record<string, string>; input?: string } = {}) => {
    const r = await run(home, args, { env: asAdmin, ...o });
    expect(r.code, `census ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(code);
    return r;
  };

  beforeAll(async () => {
    hosts.set('10.0.0.1', [vm('web1', 'running', 4), vm('db1', 'shut off'), vm('cache1', 'paused')]);
    hosts.set('10.0.0.2', [vm('build1', 'running')]);
    hosts.set('10.0.0.3', Array.from({ length: BIG }, (_, i) => vm(`big${String(i).padStart(4, '0')}`, i % 3 === 0 ? 'shut off' : 'running')));
    s = await startTestServer({ collectors: registry });
    home = mkdtempSync(join(tmpdir(), 'census-cli-hv-'));
    asAdmin = { CENSUS_URL: s.url, CENSUS_USER: 'admin', CENSUS_PASSWORD: ADMIN_PASSWORD, CENSUS_INSECURE: '1' };
    // A Monitor (read-only) account, its first password already changed.
    const admin = await s.login();
    const role = (await s.req('GET', '/api/security/role', { sid: admin })).json.roles.find((r: { name: string }) => r.name === 'Monitor');
    const made = await s.req('POST', '/api/security/user', { sid: admin, body: { name: 'mon', password: 'Mon-First-Pass-1', permissions: [{ resourcePoolId: 1000, roleIds: [Number(role.id)] }] } });
    expect(made.status, made.text).toBe(201);
    const changed = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'mon', password: 'Mon-First-Pass-1' }, body: { newPassword: 'Mon-Own-Pass-2' } });
    expect(changed.status, changed.text).toBe(200);
    asMonitor = { CENSUS_URL: s.url, CENSUS_USER: 'mon', CENSUS_PASSWORD: 'Mon-Own-Pass-2', CENSUS_INSECURE: '1' };
    // Job 1005's run at the first start, over no hypervisors, out of the way.
    await waitFor(async () => ((await s.req('GET', '/api/endeavour/job/1005', { sid: admin })).json.status === 'RUNNING' ? undefined : true), 'job 1005 to be idle');
  }, 60_000);

  afterAll(async () => {
    await s?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('creates, lists and changes sites, refusing a duplicate name and bad options', async () => {
    const made = await ok(['site', 'create', 'Frankfurt', '--description', 'Rack 4, DC Ost']);
    expect(made.stdout).toMatch(/Created site Frankfurt \(id \d+\)/);
    const list = await ok(['site', 'list']);
    expect(list.stdout).toMatch(/^\s*ID\s+NAME\s+DEFAULT\s+ANY WORKER\s+DESCRIPTION/);
    expect(list.stdout).toMatch(/1000\s+Primary\s+yes\s+no/);
    expect(list.stdout).toMatch(/Frankfurt\s+no\s+no\s+Rack 4, DC Ost/);

    const dup = await fails(['site', 'create', 'frankfurt'], 1);
    expect(dup.stderr).toMatch(/HTTP 409/);

    const updated = await json(['site', 'update', 'Frankfurt', '--allow-any-worker', 'yes', '--description', 'Rack 5']);
    expect(updated).toMatchObject({ name: 'Frankfurt', allowAnyWorker: true, description: 'Rack 5' });
    expect((await fails(['site', 'update', 'Frankfurt', '--allow-any-worker', 'maybe'], 2)).stderr).toContain('--allow-any-worker must be yes or no');
    expect((await fails(['site', 'update', 'Frankfurt'], 2)).stderr).toContain('nothing to change');
    expect((await fails(['site', 'update', 'Atlantis', '--name', 'x'], 1)).stderr).toContain('there is no site "Atlantis"');
  });

  it('registers hypervisors with inline credentials or a stored identity, in a site, without or with their inventory', async () => {
    const one = await ok(['hypervisor', 'register', '--name', 'kvm1', '--host', '10.0.0.1', '--uri', 'test:///default', '--user', 'root', '--password-stdin', '--no-inventory'], { input: 'secret-kvm-1\n' });
    expect(one.stdout).toMatch(/Registered hypervisor kvm1 \(id \d+\): kvm at 10\.0\.0\.1, site Primary\./);
    expect(one.stdout).toContain('Not inventoried yet; run census hypervisor inventory');

    await ok(['identity', 'add', '--name', 'kvm key', '--user', 'virt', '--password', 'secret-kvm-2']);
    const two = await json(['hypervisor', 'register', '--name', 'kvm2', '--host', '10.0.0.2', '--port', '2222', '--identity', 'kvm key', '--site', 'Frankfurt', '--no-inventory']);
    expect(two).toMatchObject({ name: 'kvm2', type: 'kvm', portNumber: 2222, siteName: 'Frankfurt', useKeyAuthentication: false });
    const identities = await json(['identity', 'list']);
    expect(two.user.href).toMatch(new RegExp(`/api/identity/user/${identities.find((i: { name: string }) => i.name === 'kvm key').id}$`));

    // A registration that starts its inventory (as the API's default does).
    const big = await ok(['hypervisor', 'register', '--host', '10.0.0.3', '--user', 'root', '--password', 'secret-kvm-3']);
    expect(big.stdout).toMatch(/Registered hypervisor 10\.0\.0\.3 \(id \d+\)/);
    expect(big.stdout).toContain('census job status 1005 --wait');
    // Exit 0: the session ended COMPLETED (whether it was still running when asked or not).
    await ok(['job', 'status', '1005', '--wait']);

    const list = await ok(['hypervisor', 'list']);
    expect(list.stdout).toMatch(/^\s*ID\s+NAME\s+TYPE\s+HOST\s+PORT\s+URI\s+SITE\s+VERSION\s+LOGIN/);
    expect(list.stdout).toMatch(/kvm1\s+kvm\s+10\.0\.0\.1\s+default\s+test:\/\/\/default\s+Primary\s+-\s+password \d+/);
    expect(list.stdout).toMatch(/kvm2\s+kvm\s+10\.0\.0\.2\s+2222\s+qemu:\/\/\/system\s+Frankfurt/);
    expect(list.stdout).toMatch(/10\.0\.0\.3\s+kvm\s+10\.0\.0\.3\s+default\s+qemu:\/\/\/system\s+Primary\s+libvirt 9\.0\.0, QEMU 7\.2\.0/);
    expect((await json(['hypervisor', 'list', '--type', 'kvm'])).map((h: { name: string }) => h.name)).toEqual(['kvm1', 'kvm2', '10.0.0.3']);
  });

  it('refuses registrations with usage errors, and passes the server\'s refusals on', async () => {
    expect((await fails(['hypervisor', 'register', '--user', 'root', '--password', 'x'], 2)).stderr).toContain('--host is required');
    expect((await fails(['hypervisor', 'register', '--host', 'h'], 2)).stderr).toContain('give --identity I, or --user U');
    expect((await fails(['hypervisor', 'register', '--host', 'h', '--identity', 'kvm key', '--user', 'root'], 2)).stderr).toContain('not both');
    expect((await fails(['hypervisor', 'register', '--host', 'h', '--user', 'root'], 2)).stderr).toContain('give exactly one of --password');
    expect((await fails(['hypervisor', 'register', '--host', 'h', '--port', '70000', '--user', 'root', '--password', 'x'], 2)).stderr).toContain('--port must be a whole number');
    expect((await fails(['hypervisor', 'register', '--host', 'h', '--identity', 'nobody'], 1)).stderr).toContain('there is no identity "nobody"');
    expect((await fails(['hypervisor', 'register', '--host', 'h', '--site', 'Atlantis', '--user', 'root', '--password', 'x'], 1)).stderr).toContain('there is no site "Atlantis"');
    const hyperv = await fails(['hypervisor', 'register', '--host', 'h', '--type', 'hyperv', '--user', 'root', '--password', 'x'], 1);
    expect(hyperv.stderr).toMatch(/"hyperv" is not supported yet.*kvm.*HTTP 400/);
    const dup = await fails(['hypervisor', 'register', '--name', 'again', '--host', '10.0.0.1', '--user', 'root', '--password', 'x', '--no-inventory'], 1);
    expect(dup.stderr).toMatch(/HTTP 409/);
  });

  it('inventories one hypervisor and waits for the session; a host that refuses ends FAILED (exit 4)', async () => {
    const done = await ok(['hypervisor', 'inventory', 'kvm1', '--wait']);
    expect(done.stdout).toMatch(/Inventory of kvm1 is running as session \d+\./);
    expect(done.stdout).toMatch(/Session \d+ \(Hypervisor Inventory\) ended COMPLETED/);
    const started = await json(['hypervisor', 'inventory', 'kvm2']);
    expect(started.sessionId).toMatch(/^\d+$/);
    expect(started.hypervisor.name).toBe('kvm2');
    await ok(['job', 'status', '1005', '--wait']);

    await ok(['hypervisor', 'register', '--name', 'gone', '--host', '10.0.0.9', '--user', 'root', '--password', 'x', '--no-inventory']);
    const failed = await fails(['hypervisor', 'inventory', 'gone', '--wait'], 4);
    expect(failed.stdout).toMatch(/ended FAILED/);
    expect((await fails(['hypervisor', 'inventory', 'nowhere'], 1)).stderr).toContain('there is no hypervisor "nowhere"');
  });

  it('shows a hypervisor with what its last inventory found', async () => {
    const show = await ok(['hypervisor', 'show', 'kvm1']);
    expect(show.stdout).toMatch(/^Hypervisor \d+ {2}kvm1$/m);
    expect(show.stdout).toMatch(/version\s+libvirt 9\.0\.0, QEMU 7\.2\.0/);
    expect(show.stdout).toMatch(/VMs\s+3 \(1 on, 1 off, 1 suspended\)/);
    expect(show.stdout).toMatch(/VM storage\s+600 MiB/);
    expect(show.stdout).toMatch(/last found\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    expect(show.stdout).toMatch(/libvirt URI\s+test:\/\/\/default/);
    const byId = await json(['hypervisor', 'show', (await json(['hypervisor', 'show', 'kvm1'])).id]);
    expect(byId.vms.map((v: { name: string }) => v.name).sort()).toEqual(['cache1', 'db1', 'web1']);
    const never = await ok(['hypervisor', 'show', 'gone']);
    expect(never.stdout).toMatch(/version\s+not inventoried yet/);
    expect(never.stdout).toMatch(/VMs\s+0\n/);
    expect((await fails(['hypervisor', 'show', 'nowhere'], 1)).stderr).toContain('there is no hypervisor "nowhere"');
    expect((await fails(['hypervisor', 'show'], 2)).stderr).toContain('missing NAME|ID');
  });

  it('lists VMs with filters, paging through the catalog', async () => {
    const small = await ok(['vm', 'list', '--hypervisor', 'kvm1']);
    expect(small.stdout).toMatch(/^NAME\s+HYPERVISOR\s+POWER\s+VCPUS\s+MEMORY\s+COMMITTED\s+OS$/m);
    expect(small.stdout).toMatch(/web1\s+kvm1\s+on\s+4\s+1\.0 GiB\s+200 MiB\s+-/);
    expect(small.stdout).toMatch(/db1\s+kvm1\s+off\s+2/);
    expect(small.stdout).toMatch(/cache1\s+kvm1\s+suspended/);
    expect(small.stdout.trim().split('\n')).toHaveLength(4);

    const all = await json(['vm', 'list']);
    expect(all).toHaveLength(3 + 1 + BIG);
    expect(new Set(all.map((v: { id: string }) => v.id)).size).toBe(all.length);
    const off = await json(['vm', 'list', '--state', 'off']);
    expect(off.map((v: { name: string }) => v.name)).toContain('db1');
    expect(off).toHaveLength(1 + Math.ceil(BIG / 3));
    expect(off.every((v: { properties: { powerSummary: { powerState: string } } }) => v.properties.powerSummary.powerState === 'POWERED_OFF')).toBe(true);
    // The limit counts matches, across pages: the 510th VM that is off lies on the second page.
    expect(await json(['vm', 'list', '--hypervisor', '10.0.0.3', '--state', 'on', '--limit', '410'])).toHaveLength(410);
    expect(await json(['vm', 'list', '--limit', '7'])).toHaveLength(7);
    expect((await json(['vm', 'list', '--name', 'WEB*'])).map((v: { name: string }) => v.name)).toEqual(['web1']);
    expect((await json(['vm', 'list', '--name', 'build1', '--hypervisor', 'kvm2'])).map((v: { properties: { host: string } }) => v.properties.host)).toEqual(['kvm2']);
    expect((await ok(['vm', 'list', '--name', 'nothing*'])).stdout).toContain('No virtual machines match.');

    expect((await fails(['vm', 'list', '--state', 'sleeping'], 2)).stderr).toContain('--state must be one of on, off, suspended');
    expect((await fails(['vm', 'list', '--limit', '0'], 2)).stderr).toContain('--limit must be a whole number');
    expect((await fails(['vm', 'list', '--hypervisor', 'nowhere'], 1)).stderr).toContain('there is no hypervisor "nowhere"');
  });

  it('tests a hypervisor\'s connection: exit 0, or 4 when a check FAILED', async () => {
    const good = await ok(['hypervisor', 'test', 'kvm1']);
    expect(good.stdout).toMatch(/SUCCESS\s+connect\s+SSH to the host/);
    expect(good.stdout).toContain('No check FAILED.');
    const bad = await fails(['hypervisor', 'test', 'gone'], 4);
    expect(bad.stdout).toMatch(/FAILED\s+connect\s+SSH to the host\s+10\.0\.0\.9: connection refused/);
    expect(bad.stdout).toContain('1 check(s) FAILED.');
  });

  it('updates a hypervisor in place', async () => {
    const before = await json(['hypervisor', 'show', 'kvm2']);
    const updated = await json(['hypervisor', 'update', 'kvm2', '--name', 'kvm-two', '--port', '2200', '--site', 'Primary', '--user', 'other', '--password', 'secret-other']);
    expect(updated).toMatchObject({ id: before.id, name: 'kvm-two', portNumber: 2200, siteName: 'Primary', hostAddress: '10.0.0.2' });
    expect(updated.user.href).not.toBe(before.user.href);
    expect((await ok(['hypervisor', 'update', 'kvm-two', '--identity', 'kvm key'])).stdout).toMatch(/Updated hypervisor kvm-two \(id \d+\)\./);
    expect((await json(['hypervisor', 'show', 'kvm-two'])).user.href).toBe(before.user.href);
    expect((await fails(['hypervisor', 'update', 'kvm-two'], 2)).stderr).toContain('nothing to change');
    expect((await fails(['hypervisor', 'update', 'nowhere', '--name', 'x'], 1)).stderr).toContain('there is no hypervisor "nowhere"');
    // kvm1 to the address (and default port) of 10.0.0.3: another hypervisor is there.
    expect((await fails(['hypervisor', 'update', 'kvm1', '--host', '10.0.0.3'], 1)).stderr).toMatch(/HTTP 409/);
  });

  it('lists the workers through /api/vadp, and leaves `census worker` alone', async () => {
    const list = await ok(['worker', 'list']);
    expect(list.stdout).toMatch(/^\s*ID\s+NAME\s+ROLE\s+ADDRESS\s+SITE\s+STATE\s+VERSION\s+LAST SEEN/);
    expect(list.stdout).toMatch(/server\s+\S+\s+Primary\s+ENABLED\s+\d+\.\d+\.\d+\S*\s+\d{4}-\d\d-\d\d/);
    const workers = await json(['worker', 'list']);
    expect(workers).toHaveLength(1);
    expect(workers[0]).toMatchObject({ role: 'server', siteName: 'Primary', state: 'ENABLED' });
    // `census worker` without "list" still starts a worker (here it stops: no PostgreSQL given).
    const start = await run(home, ['worker'], { env: asAdmin });
    expect(start.code).toBe(1);
    expect(start.stderr).toContain('census worker needs --database');
  });

  it('lets a Monitor read hypervisors, VMs, sites and workers but not change them', async () => {
    expect((await json(['hypervisor', 'list'], { env: asMonitor })).length).toBe(4);
    expect((await ok(['vm', 'list', '--hypervisor', 'kvm1'], { env: asMonitor })).stdout).toContain('web1');
    expect((await ok(['site', 'list'], { env: asMonitor })).stdout).toContain('Frankfurt');
    expect((await ok(['worker', 'list'], { env: asMonitor })).stdout).toContain('ENABLED');
    const refused = [
      ['hypervisor', 'register', '--host', '10.0.0.7', '--user', 'root', '--password', 'x'],
      ['hypervisor', 'update', 'kvm1', '--name', 'mine'],
      ['hypervisor', 'remove', 'kvm1'],
      ['hypervisor', 'test', 'kvm1'],
      ['hypervisor', 'inventory', 'kvm1'],
      ['site', 'create', 'Berlin'],
      ['site', 'delete', 'Frankfurt'],
    ];
    for (const args of refused) {
      const r = await fails(args, 1, { env: asMonitor });
      expect(r.stderr, args.join(' ')).toMatch(/HTTP 403 XSBAccessDeniedException/);
    }
    expect((await json(['hypervisor', 'show', 'kvm1'])).name).toBe('kvm1');
  });

  it('removes hypervisors and deletes sites, refusing Primary and a site still in use', async () => {
    await ok(['hypervisor', 'update', 'kvm-two', '--site', 'Frankfurt']);
    const inUse = await fails(['site', 'delete', 'Frankfurt'], 1);
    expect(inUse.stderr).toMatch(/kvm-two.*HTTP 409/s);
    expect((await fails(['site', 'delete', 'Primary'], 1)).stderr).toMatch(/HTTP 400/);

    const removed = await ok(['hypervisor', 'remove', 'kvm-two']);
    expect(removed.stdout).toMatch(/Removed hypervisor kvm-two \(id \d+\)\./);
    expect((await fails(['hypervisor', 'show', 'kvm-two'], 1)).stderr).toContain('there is no hypervisor "kvm-two"');
    expect((await json(['vm', 'list', '--name', 'build1']))).toEqual([]);
    expect((await fails(['hypervisor', 'remove', 'kvm-two'], 1)).stderr).toContain('there is no hypervisor');

    const deleted = await json(['site', 'delete', 'frankfurt']);
    expect(deleted.name).toBe('Frankfurt');
    expect((await json(['site', 'list'])).map((x: { name: string }) => x.name)).toEqual(['Primary']);
  });
});
