/**
 * Hypervisors end to end on a real libvirt (issue 12): a real Census with its real collectors, a
 * KVM host registered through POST /api/hypervisor and inventoried by job 1005 over SSH with the
 * real kvm collector, the VM catalog and the VM search checked against what libvirt, qemu-img
 * and stat say, sppmon's VM statistics against the harness's definitions, and the change history
 * of a run after the estate changed.
 *
 * The libvirt host is test/support/libvirt.ts's, run for the password-variant sshd: its login user
 * (census-ssh-pw) gets its own qemu:///session daemon, which no other test file uses (the kvm
 * collector's tests use the key user's), so the catalog holds exactly this file's domains even
 * when both files run at once. The hypervisor still logs in with the SSH key identity.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startLibvirtHost, type LibvirtHost } from './support/libvirt.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';
import { followPages, makeMonitorUser, vmStatistics, type VmStatistics } from './support/sppmon.ts';
import { startSshd, type Sshd } from './support/sshd.ts';

const MiB = 1024 * 1024;
const WRONG_PASSWORD = 'Not-The-Password-1';
const MONITOR_PASSWORD = 'Monitor-Pass-5678';
const CATALOG = '/api/endeavour/catalog/hypervisor/vm?embed=(children(properties))';
/** Inventories over SSH on a busy 2-core machine: generous deadlines, polled, never slept. */
const RUN_DEADLINE_MS = 60_000;

type Vm = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Change { objectType: string; objectName: string; change: string; field: string | null; oldValue: string | null; newValue: string | null }

let host: LibvirtHost;
let badSshd: Sshd;
let s: TestServer;
let admin: string;
let keyHref: string;
let kvmId: string;
/** A domain this file defines (and must undefine) beside the harness's three. */
let newVm: { name: string; image: string } | undefined;

const q = (v: unknown) => encodeURIComponent(JSON.stringify(v));
const job = async (id: number) => (await s.req('GET', `/api/endeavour/job/${id}`, { sid: admin })).json;
const sessionEnded = (id: string) => waitFor(async () => {
  const r = await s.req('GET', `/api/endeavour/jobsession/${id}`, { sid: admin });
  return r.json.status === 'RUNNING' ? undefined : r.json;
}, `session ${id} to end`, RUN_DEADLINE_MS);
const start = async (jobId: number) => {
  const r = await s.req('POST', `/api/endeavour/job/${jobId}?action=start`, { sid: admin });
  expect(r.status, r.text).toBe(200);
  return r.json.lastrun.sessionId as string;
};
const tasksOf = async (sessionId: string) =>
  ((await s.req('GET', `/api/endeavour/jobsession/${sessionId}/task`, { sid: admin })).json.tasks as { name: string; status: string }[])
    .map((t) => [t.name, t.status]).sort();
const changesOf = async (sessionId: string) =>
  (await s.req('GET', `/api/endeavour/jobsession/${sessionId}/change?pageSize=1000`, { sid: admin })).json.changes as Change[];
const logsOf = async (sessionId: string) =>
  (await s.req('GET', `/api/endeavour/log/job?pageSize=1000&filter=${q([{ property: 'jobsessionId', value: sessionId }])}`, { sid: admin })).json.logs as { type: string; message: string }[];
const catalog = async (sid = admin) => (await followPages(s, sid, `${CATALOG}&pageSize=2`, 'children')).items as Vm[];

/** libvirt's own word on a domain: `virsh dominfo` (CPU(s), Used memory in KiB, State). */
async function dominfo(name: string): Promise<{ cpus: number; memoryBytes: number; state: string }> {
  const out = await host.virsh('dominfo', name);
  const field = (label: string) => new RegExp(`^${label}:\\s+(.+)$`, 'm').exec(out)![1]!.trim();
  return { cpus: Number(field('CPU\\(s\\)')), memoryBytes: Number(field('Used memory').replace(/ KiB$/, '')) * 1024, state: field('State') };
}

/** An image as the disk holds it: allocated bytes (stat's blocks) and qemu-img's virtual size. */
function image(path: string): { allocated: number; virtual: number } {
  // -U: a running (paused) domain's qemu holds the image's write lock.
  const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', path], { encoding: 'utf8' })) as { 'virtual-size': number };
  return { allocated: statSync(path).blocks * 512, virtual: info['virtual-size'] };
}

/** SPP's power state for what dominfo prints. */
const POWER: Record<string, string> = { 'shut off': 'POWERED_OFF', paused: 'SUSPENDED', running: 'POWERED_ON' };

beforeAll(async () => {
  [host, badSshd, s] = await Promise.all([
    startLibvirtHost({ password: true }),
    startSshd({ password: true }),
    startTestServer({ taskTimeoutMs: RUN_DEADLINE_MS }),
  ]);
  admin = await s.login();
  const key = await s.req('POST', '/api/identity/key', { sid: admin, body: { name: 'kvm key', username: host.sshd.user, privatekey: host.sshd.privateKey } });
  expect(key.status, key.text).toBe(201);
  keyHref = key.json.links.self.href;
}, 180_000);

afterAll(async () => {
  if (newVm) await host.virsh('undefine', newVm.name).catch(() => {});
  await Promise.all([s?.stop(), host?.stop(), badSshd?.stop()]);
}, 60_000);

describe('hypervisors on a real libvirt', () => {
  it('registers the libvirt host with an SSH key identity, which starts job 1005, and reads its version', async () => {
    // The first start's run of job 1005 (no hypervisors yet) ends first, so that the
    // registration's run is a session of its own.
    const before = await waitFor(async () => {
      const j = await job(1005);
      return j.status === 'IDLE' && j.lastrun ? (j.lastrun.sessionId as string) : undefined;
    }, 'the first run of job 1005');

    const r = await s.req('POST', '/api/hypervisor', {
      sid: admin,
      body: { name: 'kvm-lab', hostAddress: host.sshd.host, portNumber: host.sshd.port, type: 'kvm', user: { href: keyHref }, uri: host.uri },
    });
    expect(r.status, r.text).toBe(201);
    kvmId = r.json.id;
    expect(r.json).toMatchObject({ type: 'kvm', uri: 'qemu:///session', useKeyAuthentication: true, user: { href: keyHref } });

    const last = await waitFor(async () => {
      const j = await job(1005);
      return j.status === 'IDLE' && j.lastrun && j.lastrun.sessionId !== before ? j.lastrun : undefined;
    }, 'the registration run of job 1005 to end', RUN_DEADLINE_MS);
    expect(last.status).toBe('COMPLETED');
    expect(await tasksOf(last.sessionId)).toEqual([['kvm-lab', 'COMPLETED']]);

    const libvirt = execFileSync('virsh', ['--version'], { encoding: 'utf8' }).trim();
    const got = await s.req('GET', `/api/hypervisor/${kvmId}`, { sid: admin });
    expect(got.status).toBe(200);
    expect(got.json.version).toMatch(new RegExp(`^QEMU \\d+\\.\\d+\\.\\d+ \\(libvirt ${libvirt.replace(/\./g, '\\.')}\\)$`));
  });

  it('lists exactly the host\'s VMs in the catalog, with what libvirt, qemu-img and stat say', async () => {
    const vms = await catalog();
    expect(vms.map((v) => v.properties.name).sort()).toEqual([host.db.name, host.tiny.name, host.web.name].sort());
    const disks: Record<string, string[]> = { [host.web.name]: [host.web.image], [host.db.name]: host.db.images, [host.tiny.name]: [host.tiny.image] };
    for (const vm of vms) {
      const name = vm.properties.name as string;
      const info = await dominfo(name);
      const images = disks[name]!.map(image);
      const allocated = images.reduce((n, i) => n + i.allocated, 0);
      const virtual = images.reduce((n, i) => n + i.virtual, 0);
      expect(vm.properties, name).toMatchObject({
        host: 'kvm-lab',
        hypervisorId: kvmId,
        hypervisorType: 'kvm',
        cpu: info.cpus,
        memory: info.memoryBytes,
        powerSummary: { powerState: POWER[info.state], uptime: null },
        storageSummary: { commited: allocated, uncommited: virtual - allocated, shared: null },
        datacenter: { name: 'Primary' },
        configInfo: { osName: null },
        isProtected: false,
      });
      expect(vm.properties.vmVersion, name).toMatch(/^pc-/);
    }
    const db = vms.find((v) => v.properties.name === host.db.name)!;
    expect(db.properties.disks.map((d: { path: string }) => d.path)).toEqual(host.db.images);
  });

  it('finds VMs with POST /api/hypervisor/search and a name pattern', async () => {
    const search = (body: unknown) => s.req('POST', '/api/hypervisor/search?resourceType=vm&pageSize=1', { sid: admin, body });
    const all = await search({ name: `${host.prefix}-*`, hypervisorType: 'kvm' });
    expect(all.status, all.text).toBe(200);
    expect(all.json.total).toBe(3);
    expect(all.json.vms).toHaveLength(1);
    const one = await search({ name: `${host.prefix}-t*` });
    expect(one.json.total).toBe(1);
    expect(one.json.vms[0].name).toBe(host.tiny.name);
    expect((await search({ name: 'nothing-like-it*' })).json.total).toBe(0);
  });

  it("computes sppmon's VM statistics equal to the harness's definitions", async () => {
    // The harness defines web (2 vCPUs, 512 MiB, shut off), db (2 of 4 vCPUs, 768 of 1024 MiB,
    // shut off, two disks) and tiny (1 vCPU, 64 MiB, paused).
    const images = [host.web.image, ...host.db.images, host.tiny.image].map(image);
    const commited = images.reduce((n, i) => n + i.allocated, 0);
    const expected: VmStatistics = {
      vms: 3, poweredOn: 0, poweredOff: 2, otherPowerState: 1, protected: 0, encrypted: 0,
      commited, commitedUnknown: 0, uncommited: images.reduce((n, i) => n + i.virtual, 0) - commited, uncommitedUnknown: 0,
      shared: 0, sharedUnknown: 3, cpus: 2 + 2 + 1, memory: (512 + 768 + 64) * MiB, byHypervisorType: { kvm: 3 },
    };
    expect(vmStatistics(await catalog())).toEqual(expected);
  });

  it('records changed, appeared and disappeared VMs; a wrong password makes the run PARTIAL; job 1004 alongside leaves the hypervisor alone', async () => {
    const bad = await s.req('POST', '/api/hypervisor', {
      sid: admin,
      body: { name: 'kvm-bad', hostAddress: badSshd.host, portNumber: badSshd.port, type: 'kvm', username: badSshd.user, password: WRONG_PASSWORD, addToCatJob: false },
    });
    expect(bad.status, bad.text).toBe(201);
    // An application server on the same SSH host, for the Application Server Inventory.
    const files = await s.req('POST', '/api/appserver', {
      sid: admin,
      body: { name: 'lab-files', hostAddress: host.sshd.host, portNumber: host.sshd.port, applicationType: 'file', useKeyAuthentication: true, oskey: { href: keyHref }, addToCatJob: false },
    });
    expect(files.status, files.text).toBe(201);

    // The estate changes: web loses a vCPU, a new domain is defined, db is undefined.
    newVm = { name: `${host.prefix}-new`, image: join(host.poolPath, 'new.qcow2') };
    await host.runAsUser('qemu-img', 'create', '-q', '-f', 'qcow2', newVm.image, '128M');
    const xmlPath = join(host.dir, 'new.xml');
    await writeFile(xmlPath,
      `<domain type='qemu'><name>${newVm.name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>` +
      `<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${newVm.image}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
      { mode: 0o644 });
    await host.virsh('define', xmlPath);
    await host.virsh('setvcpus', host.web.name, '1', '--config');
    await host.virsh('undefine', host.db.name);

    // SPP's call for both inventory jobs, at the same time.
    const [hv, app] = await Promise.all([start(1005), start(1004)]);
    const [hvSession, appSession] = await Promise.all([sessionEnded(hv), sessionEnded(app)]);

    expect(hvSession.status).toBe('PARTIAL');
    expect(await tasksOf(hv)).toEqual([['kvm-bad', 'FAILED'], ['kvm-lab', 'COMPLETED']]);
    const hvJob = await job(1005);
    expect(hvJob.status).toBe('IDLE');
    expect(hvJob.lastrun).toMatchObject({ sessionId: hv, status: 'PARTIAL' });
    const logs = await logsOf(hv);
    const failed = logs.filter((l) => l.type === 'ERROR');
    expect(failed.some((l) => l.message.includes('kvm-bad') && l.message.includes(`${badSshd.host}:${badSshd.port}`)), JSON.stringify(failed)).toBe(true);
    expect(JSON.stringify(logs)).not.toContain(WRONG_PASSWORD);

    const changes = await changesOf(hv);
    const find = (name: string, change: string, field: string | null = null) => changes.filter((c) => c.objectName === name && c.change === change && c.field === field);
    expect(find(host.web.name, 'changed', 'vcpus')).toEqual([expect.objectContaining({ objectType: 'vm', oldValue: '2', newValue: '1' })]);
    expect(find(newVm.name, 'appeared')).toHaveLength(1);
    expect(find(host.db.name, 'disappeared')).toHaveLength(1);
    // Nothing else moved on web (its memory, its disks) nor on tiny.
    expect(changes.filter((c) => c.objectName === host.web.name).map((c) => c.field)).toEqual(['vcpus']);
    expect(changes.some((c) => c.objectName === host.tiny.name && c.field !== 'sizeBytes')).toBe(false);

    // Job 1004 ran the file host only, and recorded nothing about VMs.
    expect(appSession.status).toBe('COMPLETED');
    expect(await tasksOf(app)).toEqual([['lab-files', 'COMPLETED']]);
    expect((await changesOf(app)).some((c) => c.objectType === 'vm' || c.objectName.startsWith(host.prefix))).toBe(false);
    expect(JSON.stringify(await logsOf(app))).not.toMatch(/kvm-lab|kvm-bad/);

    const vms = await catalog();
    expect(vms.map((v) => v.properties.name).sort()).toEqual([newVm.name, host.tiny.name, host.web.name].sort());
    expect(vms.find((v) => v.properties.name === host.web.name)!.properties.cpu).toBe(1);
  });

  it('lets a Monitor read the catalog and the VM changes but not register a hypervisor', async () => {
    await makeMonitorUser(s, admin, 'kvm-monitor', MONITOR_PASSWORD);
    const login = await s.req('POST', '/api/endeavour/session', { auth: { user: 'kvm-monitor', password: MONITOR_PASSWORD } });
    expect(login.status, login.text).toBe(200);
    const monitor = login.json.sessionid as string;
    expect((await catalog(monitor)).map((v) => v.properties.name).sort()).toEqual((await catalog()).map((v) => v.properties.name).sort());
    // VM changes need hypervisor.view (a Monitor has it); an application inventory's need application.view.
    const changes = (sessionId: string) => s.req('GET', `/api/endeavour/jobsession/${sessionId}/change?pageSize=1000`, { sid: monitor });
    const vmChanges = await changes((await job(1005)).lastrun.sessionId);
    expect(vmChanges.status, vmChanges.text).toBe(200);
    expect(vmChanges.json.changes.length).toBeGreaterThan(0);
    const appChanges = await changes((await job(1004)).lastrun.sessionId);
    expect(appChanges.status).toBe(403);
    expect(appChanges.json.id).toBe('XSBAccessDeniedException');
    const refused = await s.req('POST', '/api/hypervisor', {
      sid: monitor, body: { name: 'kvm-other', hostAddress: '192.0.2.7', type: 'kvm', user: { href: keyHref }, addToCatJob: false },
    });
    expect(refused.status).toBe(403);
    expect(refused.json.id).toBe('XSBAccessDeniedException');
  });

  it('refuses a remote or shell-breaking libvirt URI at registration and update, with the collector\'s rule', async () => {
    const count = async () => (await s.req('GET', '/api/hypervisor', { sid: admin })).json.total as number;
    const before = await count();
    for (const uri of ['qemu+ssh://root@elsewhere/system', "qemu:///system';touch /tmp/census-injected;'", 'qemu:///system$(id)', 'qemu:///system?x=a b']) {
      const r = await s.req('POST', '/api/hypervisor', { sid: admin, body: { hostAddress: '192.0.2.8', type: 'kvm', user: { href: keyHref }, uri, addToCatJob: false } });
      expect(r.status, uri).toBe(400);
      expect(r.json.id).toBe('XSBInvalidArgumentException');
      expect(r.json.description).toContain('is not a local libvirt URI');
    }
    expect(await count()).toBe(before);

    const put = await s.req('PUT', `/api/hypervisor/${kvmId}`, { sid: admin, body: { uri: 'qemu+tcp://10.0.0.1/system' } });
    expect(put.status).toBe(400);
    expect(put.json.description).toContain('is not a local libvirt URI');
    expect((await s.req('GET', `/api/hypervisor/${kvmId}`, { sid: admin })).json.uri).toBe('qemu:///session');
    // A local one is still taken, and blank means the default.
    const ok = await s.req('PUT', `/api/hypervisor/${kvmId}`, { sid: admin, body: { uri: 'qemu:///session?socket=/run/user/x/libvirt-sock' } });
    expect(ok.status, ok.text).toBe(200);
    const blank = await s.req('PUT', `/api/hypervisor/${kvmId}`, { sid: admin, body: { uri: '' } });
    expect(blank.json.uri).toBeNull();
  });
});
