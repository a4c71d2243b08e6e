/**
 * A vCenter end to end (issue 12, point 3): a real Census with its real collectors, govmomi's
 * vSphere simulator (vcsim, built from Debian's sources by test/support/vcsim.ts) registered
 * through POST /api/hypervisor as type `vmware`, inventoried by job 1005 with the real vmware
 * collector over HTTPS, and the VM catalog read back as sppmon reads it: vSphere's own power
 * states, hardware version, cores per socket, uptime and storage figures, its datacenter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, waitFor, type TestServer } from './support/server.ts';
import { followPages, vmStatistics } from './support/sppmon.ts';
import { startVcsim, type Vcsim } from './support/vcsim.ts';

const MiB = 1024 * 1024;
const CATALOG = '/api/endeavour/catalog/hypervisor/vm?embed=(children(properties))';
const RUN_DEADLINE_MS = 60_000;

type Vm = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let vc: Vcsim;
let s: TestServer;
let admin: string;
let vcId: string;

const job = async (id: number) => (await s.req('GET', `/api/endeavour/job/${id}`, { sid: admin })).json;

beforeAll(async () => {
  [vc, s] = await Promise.all([startVcsim({ datacenters: 2 }), startTestServer({ taskTimeoutMs: RUN_DEADLINE_MS })]);
  admin = await s.login();
}, 900_000);

afterAll(async () => {
  await Promise.all([s?.stop(), vc?.stop()]);
}, 60_000);

describe('a vCenter through the API', () => {
  it('registers a vCenter (type vmware, tls require), which job 1005 inventories, and reads its version', async () => {
    const before = await waitFor(async () => {
      const j = await job(1005);
      return j.status === 'IDLE' && j.lastrun ? (j.lastrun.sessionId as string) : undefined;
    }, 'the first run of job 1005');

    const r = await s.req('POST', '/api/hypervisor', {
      sid: admin,
      body: { name: 'vc-lab', hostAddress: vc.host, portNumber: vc.port, type: 'vmware', tls: 'require', username: vc.username, password: vc.password },
    });
    expect(r.status, r.text).toBe(201);
    vcId = r.json.id;
    expect(r.json).toMatchObject({ type: 'vmware', tls: 'require', portNumber: vc.port });
    expect(r.text).not.toContain(vc.password);

    const last = await waitFor(async () => {
      const j = await job(1005);
      return j.status === 'IDLE' && j.lastrun && j.lastrun.sessionId !== before ? j.lastrun : undefined;
    }, 'the registration run of job 1005 to end', RUN_DEADLINE_MS);
    expect(last.status).toBe('COMPLETED');

    const got = await s.req('GET', `/api/hypervisor/${vcId}`, { sid: admin });
    expect(got.json.version).toMatch(/^VMware vCenter Server \d+\.\d+/);

    const test = await s.req('POST', `/api/hypervisor/${vcId}?action=test`, { sid: admin, body: { type: 'hypervisor' } });
    expect(test.status, test.text).toBe(200);
    expect(test.json.configGroups[0].tests.map((t: { name: string; status: string }) => [t.name, t.status])).toEqual([
      ['connect', 'SUCCESS'], ['login', 'SUCCESS'], ['read', 'SUCCESS'],
    ]);
  });

  it('lists every VM of both datacenters in the catalog with vSphere\'s values', async () => {
    const vms = (await followPages(s, admin, `${CATALOG}&pageSize=3`, 'children')).items as Vm[];
    expect(vms).toHaveLength(vc.expected.vms);
    const byDc = (dc: string) => vms.filter((v) => v.properties.datacenter.name === dc).map((v) => v.properties.name).sort();
    expect(byDc('DC0')).toEqual(['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0', 'DC0_H0_VM1']);
    expect(byDc('DC1')).toEqual(['DC1_C0_RP0_VM0', 'DC1_C0_RP0_VM1', 'DC1_H0_VM0', 'DC1_H0_VM1']);
    for (const vm of vms) {
      const p = vm.properties;
      expect(p, p.name).toMatchObject({
        host: 'vc-lab',
        hypervisorId: vcId,
        hypervisorType: 'vmware',
        vmVersion: 'vmx-13',
        powerSummary: { powerState: 'POWERED_ON' },
        cpu: 1,
        memory: 32 * MiB,
        state: 'poweredOn',
        isProtected: false,
      });
      expect(p.uuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(typeof p.powerSummary.uptime).toBe('number');
      expect(typeof p.storageSummary.commited).toBe('number');
      expect(typeof p.storageSummary.uncommited).toBe('number');
      expect(typeof p.storageSummary.shared).toBe('number');
      expect(p.coresPerCpu === null || Number.isInteger(p.coresPerCpu)).toBe(true);
    }

    const stats = vmStatistics(vms);
    expect(stats).toMatchObject({ vms: vc.expected.vms, poweredOn: vc.expected.vms, cpus: vc.expected.vms, memory: vc.expected.vms * 32 * MiB });
    expect(stats.byHypervisorType).toEqual({ vmware: vc.expected.vms });
    expect(stats.commitedUnknown + stats.uncommitedUnknown + stats.sharedUnknown).toBe(0);

    const search = await s.req('POST', '/api/hypervisor/search?resourceType=vm&from=hlo', { sid: admin, body: { name: 'DC1_H0_*', hypervisorType: 'vmware' } });
    expect(search.status, search.text).toBe(200);
    expect(search.json.vms.map((v: Vm) => v.name).sort()).toEqual(['DC1_H0_VM0', 'DC1_H0_VM1']);
  });

  it('a wrong password fails the task with AUTH naming the vCenter', async () => {
    const r = await s.req('POST', '/api/hypervisor', {
      sid: admin,
      body: { name: 'vc-bad', hostAddress: 'localhost', portNumber: vc.port, type: 'vmware', tls: 'require', username: vc.username, password: 'Not-The-Password-1', addToCatJob: false },
    });
    expect(r.status, r.text).toBe(201);
    const start = await s.req('POST', '/api/endeavour/job/1005?action=start', { sid: admin });
    expect(start.status, start.text).toBe(200);
    const sessionId = start.json.lastrun.sessionId as string;
    const ended = await waitFor(async () => {
      const j = await s.req('GET', `/api/endeavour/jobsession/${sessionId}`, { sid: admin });
      return j.json.status === 'RUNNING' ? undefined : j.json;
    }, `session ${sessionId} to end`, RUN_DEADLINE_MS);
    expect(ended.status).toBe('PARTIAL');
    const tasks = (await s.req('GET', `/api/endeavour/jobsession/${sessionId}/task`, { sid: admin })).json.tasks as { name: string; status: string }[];
    expect(tasks.map((t) => [t.name, t.status]).sort()).toEqual([['vc-bad', 'FAILED'], ['vc-lab', 'COMPLETED']]);
    const q = encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: sessionId }]));
    const logs = (await s.req('GET', `/api/endeavour/log/job?pageSize=1000&filter=${q}`, { sid: admin })).json.logs as { type: string; message: string }[];
    const error = logs.find((l) => l.type === 'ERROR' && l.message.includes('vc-bad'));
    expect(error?.message).toContain('refused the login');
    expect(JSON.stringify(logs)).not.toContain('Not-The-Password-1');
  });

  it('verifies the certificate unless told otherwise, refuses a libvirt uri, and says both in the collector list', async () => {
    const info = (await s.req('GET', '/api/census/collector/vmware', { sid: admin })).json;
    expect(info).toMatchObject({ tls: true, defaultTls: 'verify', defaultUri: null });
    expect((await s.req('GET', '/api/census/collector/kvm', { sid: admin })).json).toMatchObject({ tls: false, defaultTls: null, defaultUri: 'qemu:///system' });

    const made = await s.req('POST', '/api/hypervisor', {
      sid: admin, body: { name: 'vc-default-tls', hostAddress: '192.0.2.9', type: 'vmware', username: vc.username, password: vc.password, addToCatJob: false },
    });
    expect(made.status, made.text).toBe(201);
    const id = (made.json.hypervisors?.[0] ?? made.json).id as string;
    expect((await s.req('GET', `/api/hypervisor/${id}`, { sid: admin })).json.tls).toBe('verify');
    expect((await s.req('DELETE', `/api/hypervisor/${id}`, { sid: admin })).status).toBe(204);

    const withUri = await s.req('POST', '/api/hypervisor', {
      sid: admin, body: { name: 'vc-uri', hostAddress: '192.0.2.10', type: 'vmware', uri: 'qemu:///system', username: vc.username, password: vc.password, addToCatJob: false },
    });
    expect(withUri.status).toBe(400);
    expect(withUri.json.description).toContain('takes no "uri"');
  });
});
