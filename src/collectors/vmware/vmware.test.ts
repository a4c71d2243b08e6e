/**
 * Runs the VMware collector against a real vSphere simulator: govmomi's vcsim built from
 * Debian's sources (test/support/vcsim.ts), serving the vim25 SOAP API over HTTPS with its own
 * self-signed certificate. Expected counts come from the model's flags; expected values from
 * what vcsim's default model gives every VM (1 vCPU, 32 MB, vmx-13, powered on).
 */

import http from 'node:http';
import net from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectDeclaredChecks, failure, options } from '../../../test/support/collectors.ts';
import { freePort } from '../../../test/support/redis-server.ts';
import { silentListener, type SilentListener } from '../../../test/support/silent-listener.ts';
import { startVcsim, type Vcsim } from '../../../test/support/vcsim.ts';
import type { CollectedDatabase, CollectTarget } from '../types.ts';
import { vmwareCollector } from './index.ts';

const MiB = 1024 * 1024;

let vc: Vcsim;
/**
 * Two datacenters, each with more objects than one RetrievePropertiesEx page (500). vcsim 0.24
 * answers every retrieval whole (it ignores maxObjects and never sends a token), so this checks
 * the per-datacenter reads and a large answer, not ContinueRetrievePropertiesEx.
 */
let big: Vcsim;
let silent: SilentListener;
/** Plain HTTP that is not a vSphere SDK. */
let web: http.Server;
let webPort: number;

beforeAll(async () => {
  [vc, big, silent] = await Promise.all([
    startVcsim(),
    startVcsim({ datacenters: 2, clusters: 1, clusterHosts: 2, standaloneHosts: 1, vmsPerPool: 260 }),
    silentListener(),
  ]);
  web = http.createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<html>no</html>'));
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webPort = (web.address() as net.AddressInfo).port;
}, 900_000);

afterAll(async () => {
  await Promise.all([vc?.stop(), big?.stop(), silent?.close(), new Promise((resolve) => web?.close(resolve))]);
});

const target = (over: Partial<CollectTarget> = {}, sim: Vcsim = vc): CollectTarget => ({
  name: 'vc1',
  host: sim.host,
  port: sim.port,
  username: sim.username,
  password: sim.password,
  tls: 'require',
  ...over,
});

const vmNames = (vms: CollectedDatabase[]) => vms.map((v) => v.name);

describe('collect against vcsim', () => {
  it('reads the vCenter, its datacenter, hosts and every VM with their properties', async () => {
    const result = await vmwareCollector.collect(target(), options({ timeoutMs: 30_000 }));
    expect(result.warnings).toEqual([]);
    expect(result.instances).toHaveLength(1);
    const instance = result.instances[0]!;
    expect(instance.name).toBe(vc.host);
    expect(instance.port).toBe(vc.port);
    expect(instance.version).toMatch(/^VMware vCenter Server \d+\.\d+/);
    expect(instance.properties).toMatchObject({ hypervisorType: 'vmware', apiType: 'VirtualCenter' });
    expect(instance.properties.apiVersion).toMatch(/^\d+\.\d+/);
    expect(instance.properties.datacenters).toEqual([{ name: 'DC0', hosts: vc.expected.hosts, vms: vc.expected.vms }]);
    const hosts = instance.properties.hosts as { name: string; datacenter: string; connectionState: string }[];
    expect(hosts).toHaveLength(vc.expected.hosts);
    for (const h of hosts) expect(h).toMatchObject({ datacenter: 'DC0', connectionState: 'connected' });

    // vcsim names VMs after where they are: DC0_H0_VM0 on the standalone host, DC0_C0_RP0_VM0 in the cluster.
    expect(vmNames(instance.databases).sort()).toEqual(['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0', 'DC0_H0_VM1']);
    const hostNames = new Set(hosts.map((h) => h.name));
    const uuids = new Set<string>();
    for (const vm of instance.databases) {
      const p = vm.properties;
      expect(p.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      uuids.add(p.uuid as string);
      expect(p).toMatchObject({ state: 'poweredOn', vcpus: 1, memoryBytes: 32 * MiB, vmVersion: 'vmx-13', datacenter: 'DC0' });
      expect(typeof p.coresPerSocket === 'number' || p.coresPerSocket === null).toBe(true);
      expect(hostNames.has(p.host as string), `${vm.name} runs on a host of the inventory`).toBe(true);
      expect(p.id).toMatch(/^vm-\d+$/);
      expect(typeof p.committedBytes).toBe('number');
      expect(vm.sizeBytes).toBe(p.committedBytes);
      expect(p.sharedBytes).toBe(Math.max(0, (p.committedBytes as number) - (p.unsharedBytes as number)));
      expect(typeof p.uptimeSeconds === 'number' || p.uptimeSeconds === null).toBe(true);
    }
    expect(uuids.size).toBe(vc.expected.vms);
    // The standalone host's VMs run on it.
    const standalone = instance.databases.filter((v) => v.name.startsWith('DC0_H0_'));
    expect(new Set(standalone.map((v) => v.properties.host)).size).toBe(1);
  });

  it('reads a larger inventory, datacenter by datacenter', async () => {
    const result = await vmwareCollector.collect(target({}, big), options({ timeoutMs: 120_000 }));
    const instance = result.instances[0]!;
    expect(big.expected).toEqual({ datacenters: 2, hosts: 6, vms: 1040 });
    expect(instance.databases).toHaveLength(big.expected.vms);
    expect(new Set(vmNames(instance.databases)).size).toBe(big.expected.vms);
    expect(instance.properties.datacenters).toEqual([
      { name: 'DC0', hosts: 3, vms: 520 },
      { name: 'DC1', hosts: 3, vms: 520 },
    ]);
    const inDc1 = instance.databases.filter((v) => v.properties.datacenter === 'DC1');
    expect(inDc1).toHaveLength(520);
    expect(inDc1.every((v) => v.name.startsWith('DC1_'))).toBe(true);
  }, 180_000);
});

describe('errors', () => {
  it('a wrong password is AUTH naming the server, and the password is nowhere in it', async () => {
    const err = await failure(vmwareCollector.collect(target({ password: 'not-the-password' }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`vc1 (${vc.host}:${vc.port})`);
    expect(err.message).toContain(`"${vc.username}"`);
    expect(err.message).not.toContain('not-the-password');
  });

  it('a refused port is REFUSED and retryable', async () => {
    const port = await freePort();
    const err = await failure(vmwareCollector.collect(target({ port }), options()));
    expect(err.code).toBe('REFUSED');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`vc1 (${vc.host}:${port})`);
  });

  it('tls "verify" refuses vcsim\'s self-signed certificate clearly', async () => {
    const err = await failure(vmwareCollector.collect(target({ tls: 'verify' }), options()));
    expect(err.code).toBe('TLS');
    expect(err.message).toMatch(/TLS negotiation with vc1 .* failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|ERR_TLS_CERT_ALTNAME_INVALID)\)/);
  });

  it('tls "disable" against the HTTPS SDK says the vCenter needs TLS', async () => {
    const err = await failure(vmwareCollector.collect(target({ tls: 'disable' }), options()));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toContain('use tls "require" or "verify"');
  });

  it('a web server that is not a vSphere SDK is PROTOCOL', async () => {
    const err = await failure(vmwareCollector.collect(target({ tls: 'disable', port: webPort }), options()));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toContain('answered HTTP 404 at /sdk: it is not a vSphere SDK endpoint');
  });

  it('a server that never answers is a TIMEOUT at the deadline', async () => {
    const started = Date.now();
    const err = await failure(vmwareCollector.collect(target({ port: silent.port }), options({ timeoutMs: 1500 })));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('the TLS handshake never completed');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('an aborted run is CANCELLED', async () => {
    const ac = new AbortController();
    const run = vmwareCollector.collect(target({ port: silent.port }), { signal: ac.signal, timeoutMs: 30_000 });
    ac.abort();
    const err = await failure(run);
    expect(err.code).toBe('CANCELLED');
  });
});

describe('connection test', () => {
  const statuses = (checks: { name: string; status: string }[]) => Object.fromEntries(checks.map((c) => [c.name, c.status]));

  it('passes every check and counts what it read', async () => {
    const checks = await vmwareCollector.test(target(), options({ timeoutMs: 30_000 }));
    expectDeclaredChecks(vmwareCollector.info, checks);
    expect(statuses(checks)).toEqual({ connect: 'SUCCESS', login: 'SUCCESS', read: 'SUCCESS' });
    expect(checks[0]!.message).toContain('VMware vCenter Server');
    expect(checks[2]!.message).toBe(`1 datacenter, ${vc.expected.hosts} hosts, ${vc.expected.vms} virtual machines`);
  });

  it('a wrong password fails the login check and skips the read', async () => {
    const checks = await vmwareCollector.test(target({ password: 'wrong' }), options());
    expect(statuses(checks)).toEqual({ connect: 'SUCCESS', login: 'FAILED', read: 'SKIPPED' });
    expect(checks[1]!.message).toContain('refused the login');
  });

  it('a refused port fails the connect check', async () => {
    const checks = await vmwareCollector.test(target({ port: await freePort() }), options());
    expect(statuses(checks)).toEqual({ connect: 'FAILED', login: 'SKIPPED', read: 'SKIPPED' });
    expect(checks[0]!.message).toContain('connection refused');
  });
});
