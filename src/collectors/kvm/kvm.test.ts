/**
 * Runs the KVM collector against real libvirt behind real OpenSSH servers (test/support/libvirt.ts:
 * Debian's sshd on a loopback port; its login user's own libvirtd with the QEMU driver, holding
 * domains on qemu-img images, a storage pool and networks; libvirt's test driver for 100
 * domains). Expected values come from the objects' definitions and from the images on disk.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectDeclaredChecks, failure, options } from '../../../test/support/collectors.ts';
import { startLibvirtHost, writeTestDriverHost, type LibvirtHost, type TestDriverHost } from '../../../test/support/libvirt.ts';
import { silentListener, type SilentListener } from '../../../test/support/silent-listener.ts';
import { startSshd, type Sshd } from '../../../test/support/sshd.ts';
import type { CollectedDatabase, CollectResult, CollectTarget } from '../types.ts';
import { kvmCollector } from './index.ts';
import { buildInventory } from './inventory.ts';
import { splitOutput } from './script.ts';
import { libvirtUriProblem, shellQuote } from './uri.ts';
import { parseXml, XmlError } from '../xml.ts';

const MiB = 1024 * 1024;

let host: LibvirtHost;
let pwSshd: Sshd;
let noVirshSshd: Sshd;
let garbageSshd: Sshd;
let bigHost: TestDriverHost;
let silent: SilentListener;

beforeAll(async () => {
  [host, pwSshd, noVirshSshd, garbageSshd, silent] = await Promise.all([
    startLibvirtHost(),
    startSshd({ password: true }),
    // A host without libvirt: the script runs with a PATH on which there is no virsh.
    startSshd({ forceCommand: 'PATH=/nonexistent; export PATH; exec /bin/sh -s' }),
    // Something that answers with markers but not with what virsh prints.
    startSshd({ forceCommand: `printf '@@census:script 1\\n@@census:version\\nRunning hypervisor: QEMU 7\\n<domain>\\n@@census:done\\n'` }),
    silentListener(),
  ]);
  bigHost = await writeTestDriverHost(join(host.dir, 'big-host.xml'), 100);
}, 120_000);

afterAll(async () => {
  await Promise.all([host?.stop(), pwSshd?.stop(), noVirshSshd?.stop(), garbageSshd?.stop(), silent?.close()]);
});

const keyTarget = (over: Partial<CollectTarget> = {}): CollectTarget => ({
  name: 'kvm1',
  host: host.sshd.host,
  port: host.sshd.port,
  username: host.sshd.user,
  password: null,
  privateKey: host.sshd.privateKey,
  uri: host.uri,
  ...over,
});

const pwTarget = (over: Partial<CollectTarget> = {}): CollectTarget => ({
  name: 'kvm2',
  host: pwSshd.host,
  port: pwSshd.port,
  username: pwSshd.user,
  password: pwSshd.password!,
  uri: bigHost.uri,
  ...over,
});

const opts = () => options({ timeoutMs: 30_000 });

function domain(result: CollectResult, name: string): CollectedDatabase {
  const found = result.instances[0]!.databases.find((d) => d.name === name);
  expect(found, `domain ${name}`).toBeDefined();
  return found!;
}

/** The machine's memory as libvirt's nodeinfo counts it: the NUMA nodes' MemTotal. */
function nodeMemoryBytes(): number {
  const dir = '/sys/devices/system/node';
  const nodes = readdirSync(dir).filter((n) => /^node\d+$/.test(n));
  return nodes.reduce((sum, n) => sum + Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync(join(dir, n, 'meminfo'), 'utf8'))![1]) * 1024, 0);
}

/** [allocated bytes, file size] of an image, as libvirt reads them for a file-backed disk. */
function onDisk(path: string): [number, number] {
  const s = statSync(path);
  return [s.blocks * 512, s.size];
}

describe('KVM collector on a real libvirt (qemu:///session) over SSH', () => {
  it('reads the host, its storage pool, its networks and every domain', async () => {
    const memoryBefore = nodeMemoryBytes();
    const result = await kvmCollector.collect(keyTarget(), opts());
    expect(result.warnings).toEqual([]);
    expect(result.instances).toHaveLength(1);
    const instance = result.instances[0]!;
    expect(instance.name).toBe(host.sshd.host);
    expect(instance.port).toBe(host.sshd.port);

    const libvirtVersion = execFileSync('virsh', ['--version'], { encoding: 'utf8' }).trim();
    expect(instance.version).toMatch(new RegExp(`^QEMU \\d+\\.\\d+\\.\\d+ \\(libvirt ${libvirtVersion.replace(/\./g, '\\.')}\\)$`));
    const p = instance.properties as Record<string, any>;
    expect(p.hypervisorType).toBe('kvm');
    expect(p.uri).toBe('qemu:///session');
    expect(p.libvirtVersion).toBe(libvirtVersion);
    expect(p.hostname).toBe(execFileSync('hostname', { encoding: 'utf8' }).trim());
    // libvirt sums the NUMA nodes' memory, which on this VM changes as memory is plugged in: read it
    // before and after the collection.
    expect([memoryBefore, nodeMemoryBytes()]).toContain(p.nodeInfo.memoryBytes);
    expect(p.nodeInfo.cpus).toBe(Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim()));
    expect(p.hostKeyFingerprint).toBe(host.sshd.hostKeyFingerprint);

    const pool = p.storagePools.find((x: { name: string }) => x.name === host.poolName);
    // libvirt's dir pool is the file system under it: statvfs's size in fundamental blocks.
    const [frsize, blocks] = execFileSync('stat', ['-f', '-c', '%S %b', host.poolPath], { encoding: 'utf8' }).trim().split(' ').map(Number);
    expect(pool).toMatchObject({ type: 'dir', state: 'running', autostart: true, persistent: true, path: host.poolPath, capacityBytes: frsize! * blocks! });
    expect(pool.allocationBytes).toBeGreaterThan(0);
    expect(pool.allocationBytes + pool.availableBytes).toBeLessThanOrEqual(pool.capacityBytes);

    const nat = p.networks.find((n: { name: string }) => n.name === host.natNetwork);
    expect(nat).toMatchObject({ active: false, persistent: true, autostart: false, forwardMode: 'nat', bridge: `${host.prefix}n`, ipv4Address: '10.213.7.1', ipv4Netmask: '255.255.255.0' });
    const bridge = p.networks.find((n: { name: string }) => n.name === host.bridgeNetwork);
    expect(bridge).toMatchObject({ active: true, persistent: true, autostart: true, forwardMode: 'bridge', bridge: `${host.prefix}b`, ipv4Address: null, ipv4Netmask: null });

    const web = domain(result, host.web.name);
    const [webAlloc, webSize] = onDisk(host.web.image);
    expect(web).toMatchObject({ sizeBytes: webAlloc, owner: null, encoding: null });
    expect(web.properties).toMatchObject({
      uuid: host.web.uuid,
      state: 'shutoff',
      vcpus: 2,
      maxVcpus: 2,
      memoryBytes: 512 * MiB,
      maxMemoryBytes: 512 * MiB,
      osType: 'hvm',
      arch: 'x86_64',
      domainType: 'qemu',
      persistent: true,
      autostart: false,
      title: 'Web server',
      description: null,
      disks: [{ target: 'vda', device: 'disk', bus: 'virtio', path: host.web.image, format: 'qcow2', virtualBytes: 1024 * MiB, allocationBytes: webAlloc, physicalBytes: webSize }],
      interfaces: [{ type: 'user', mac: '52:54:00:c0:00:01', model: 'virtio', source: null }],
    });
    expect(web.properties.machine).toMatch(/^pc-/); // libvirt fills in the machine type at define

    const db = domain(result, host.db.name);
    const [qcowAlloc, qcowSize] = onDisk(host.db.images[0]);
    const [rawAlloc, rawSize] = onDisk(host.db.images[1]);
    expect(qcowAlloc).toBeGreaterThanOrEqual(4 * MiB); // qemu-io wrote 4 MiB into it
    expect(db.sizeBytes).toBe(qcowAlloc + rawAlloc);
    expect(db.properties).toMatchObject({
      state: 'shutoff',
      vcpus: 2,
      maxVcpus: 4,
      memoryBytes: 768 * MiB,
      maxMemoryBytes: 1024 * MiB,
      autostart: true,
      title: null,
      description: 'Orders & billing',
      disks: [
        { target: 'vda', format: 'qcow2', virtualBytes: 2048 * MiB, allocationBytes: qcowAlloc, physicalBytes: qcowSize },
        { target: 'vdb', format: 'raw', virtualBytes: 100 * MiB, allocationBytes: rawAlloc, physicalBytes: rawSize },
      ],
      interfaces: [{ type: 'network', mac: '52:54:00:c0:00:02', model: 'e1000', source: host.natNetwork }],
    });

    expect(domain(result, host.tiny.name).properties).toMatchObject({ state: 'paused', vcpus: 1, memoryBytes: 64 * MiB });
  });

  it('sees a changed vCPU count and an added disk on the next run', async () => {
    const extra = join(host.poolPath, 'web-extra.qcow2');
    await host.runAsUser('qemu-img', 'create', '-q', '-f', 'qcow2', extra, '300M');
    await host.virsh('setvcpus', host.web.name, '1', '--config');
    await host.virsh('attach-disk', host.web.name, extra, 'vdb', '--config', '--subdriver', 'qcow2', '--targetbus', 'virtio');
    try {
      const web = domain(await kvmCollector.collect(keyTarget(), opts()), host.web.name);
      expect(web.properties).toMatchObject({ vcpus: 1, maxVcpus: 2 });
      const disks = web.properties.disks as { target: string; path: string; virtualBytes: number; allocationBytes: number }[];
      expect(disks.map((d) => d.target)).toEqual(['vda', 'vdb']);
      expect(disks[1]).toMatchObject({ path: extra, virtualBytes: 300 * MiB, allocationBytes: onDisk(extra)[0] });
      expect(web.sizeBytes).toBe(onDisk(host.web.image)[0] + onDisk(extra)[0]);
    } finally {
      await host.virsh('detach-disk', host.web.name, 'vdb', '--config');
      await host.virsh('setvcpus', host.web.name, '2', '--config');
    }
  });

  it('passes every connection check', async () => {
    const checks = await kvmCollector.test(keyTarget(), opts());
    expectDeclaredChecks(kvmCollector.info, checks);
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['connect', 'SUCCESS'],
      ['login', 'SUCCESS'],
      ['virsh', 'SUCCESS'],
      ['libvirt', 'SUCCESS'],
      ['read', 'SUCCESS'],
    ]);
    expect(checks[4]!.message).toMatch(/\b\d+ domains, \d+ storage pools?, \d+ networks?/);
  });
});

describe("KVM collector on libvirt's test driver", () => {
  it('reads 100 domains with a password login, in one SSH exec', async () => {
    const started = Date.now();
    const result = await kvmCollector.collect(pwTarget(), opts());
    const elapsed = Date.now() - started;
    const instance = result.instances[0]!;
    expect(instance.version).toMatch(/^TEST \d/);
    expect(instance.properties).toMatchObject({
      uri: bigHost.uri,
      nodeInfo: { cpuModel: 'Census test CPU', cpus: 8, cpuMhz: 2400, sockets: 1, coresPerSocket: 4, threadsPerCore: 2, memoryBytes: 16 * 1024 * MiB },
      storagePools: [{ name: 'images', type: 'dir', state: 'running', path: '/images', capacityBytes: 100 * 1024 * MiB }],
      networks: [{ name: 'testnet', active: true, forwardMode: 'nat', bridge: 'virbr9', ipv4Address: '192.168.9.1', ipv4Netmask: '255.255.255.0' }],
    });
    expect(instance.databases.map((d) => d.name)).toEqual(bigHost.domains.map((d) => d.name));
    for (const [i, d] of instance.databases.entries()) {
      expect(d.properties).toMatchObject({ uuid: bigHost.domains[i]!.uuid, state: 'running', vcpus: bigHost.domains[i]!.vcpus, memoryBytes: bigHost.domains[i]!.memoryMiB * MiB, domainType: 'test' });
    }
    expect(elapsed).toBeLessThan(20_000);
  });
});

describe('KVM collector failures', () => {
  it('fails with AUTH on a wrong password, naming the host and not showing the password', async () => {
    const err = await failure(kvmCollector.collect(pwTarget({ password: 'not-the-password' }), opts()));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain(`kvm2 (${pwSshd.host}:${pwSshd.port})`);
    expect(err.message).not.toContain('not-the-password');
    const checks = await kvmCollector.test(pwTarget({ password: 'not-the-password' }), opts());
    expect(checks.map((c) => c.status)).toEqual(['SUCCESS', 'FAILED', 'SKIPPED', 'SKIPPED', 'SKIPPED']);
  });

  it('says libvirt is not installed when virsh is not on the PATH', async () => {
    const target = keyTarget({ name: 'bare', port: noVirshSshd.port, privateKey: noVirshSshd.privateKey });
    const err = await failure(kvmCollector.collect(target, opts()));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toBe(`libvirt is not installed on bare (${noVirshSshd.host}:${noVirshSshd.port}): virsh is not on the PATH of user "${noVirshSshd.user}"`);
    const checks = await kvmCollector.test(target, opts());
    expect(checks.map((c) => c.status)).toEqual(['SUCCESS', 'SUCCESS', 'FAILED', 'SKIPPED', 'SKIPPED']);
  });

  it("fails with PERMISSION when the user may not open libvirt's socket", async () => {
    // Another user's libvirt socket: the kernel refuses the connect (EACCES), as for a user not in
    // the libvirt group on qemu:///system.
    const uri = `qemu:///session?socket=${host.sessionSocket}`;
    const err = await failure(kvmCollector.collect(pwTarget({ uri }), opts()));
    expect(err.code).toBe('PERMISSION');
    expect(err.message).toContain(`user "${pwSshd.user}" may not open ${uri} on kvm2 (${pwSshd.host}:${pwSshd.port})`);
    expect(err.message).toMatch(/Permission denied/);
    const checks = await kvmCollector.test(pwTarget({ uri }), opts());
    expect(checks.map((c) => c.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'FAILED', 'SKIPPED']);
  });

  it('fails with PROTOCOL, naming the host, when the output is not what virsh prints', async () => {
    const target = keyTarget({ name: 'odd', port: garbageSshd.port, privateKey: garbageSshd.privateKey });
    const err = await failure(kvmCollector.collect(target, opts()));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toContain(`virsh on odd (${garbageSshd.host}:${garbageSshd.port}) printed what Census cannot read`);
  });

  it('fails at its deadline on a host that never answers', async () => {
    const started = Date.now();
    const err = await failure(kvmCollector.collect(keyTarget({ port: silent.port }), options({ timeoutMs: 800 })));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain(`kvm1 (127.0.0.1:${silent.port})`);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses a URI that could inject shell, before connecting', async () => {
    const marker = join(host.dir, 'injected');
    for (const uri of [`qemu:///system';touch ${marker};'`, 'qemu:///system$(id)', 'qemu+ssh://root@elsewhere/system', 'qemu:///system?x=a b']) {
      const err = await failure(kvmCollector.collect(keyTarget({ uri }), opts()));
      expect(err.code).toBe('PROTOCOL');
      expect(err.message).toContain('is not a local libvirt URI');
    }
    expect(existsSync(marker)).toBe(false);
    await rm(marker, { force: true });
  });
});

describe('KVM collector parsing', () => {
  it('accepts local libvirt URIs only, and quotes for sh', () => {
    for (const ok of ['qemu:///system', 'qemu:///session', 'test:///default', 'test:///var/tmp/host.xml', 'qemu:///system?socket=/run/libvirt/libvirt-sock-ro']) {
      expect(libvirtUriProblem(ok), ok).toBeNull();
    }
    for (const bad of ['', 'qemu://host/system', 'qemu+tcp:///system', 'http:///x', 'qemu:///sys tem', "qemu:///s'", 'qemu:///s`id`', 'qemu:///s\n']) {
      expect(libvirtUriProblem(bad), bad).not.toBeNull();
    }
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });

  it('parses XML strictly', () => {
    const doc = parseXml(`<?xml version="1.0"?><!-- c --><a x='1' y="&lt;&#65;&#x42;"><b>t&amp;u</b><![CDATA[<raw>]]></a>`);
    expect(doc).toMatchObject({ name: 'a', attrs: { x: '1', y: '<AB' }, text: '<raw>' });
    expect(doc.children[0]).toMatchObject({ name: 'b', text: 't&u' });
    for (const bad of ['<a>', '<a></b>', '<a x=1/>', '<a x="1" x="2"/>', '<a>&foo;</a>', '<!DOCTYPE a><a/>', '<a/><b/>', '<a>&amp</a>', '']) {
      expect(() => parseXml(bad), bad).toThrow(XmlError);
    }
  });

  it('refuses a domain whose XML is not well formed, and one with a bad number', () => {
    const uuid = '11111111-2222-3333-4444-555555555555';
    const out = (xml: string) =>
      [
        '@@census:script 1',
        '@@census:version',
        'Using library: libvirt 9.0.0',
        '@@census:nodeinfo',
        'CPU(s):              2',
        '@@census:domains',
        uuid,
        ...['domains-autostart', 'domains-persistent', 'pools', 'pools-autostart', 'pools-persistent', 'networks', 'networks-autostart', 'networks-persistent', 'networks-active'].map((s) => `@@census:${s}`),
        `@@census:dom-xml ${uuid}`,
        xml,
        '@@census:done',
      ].join('\n');
    expect(() => buildInventory(splitOutput(out('<domain><name>x</name>')))).toThrow(/not well formed/);
    expect(() => buildInventory(splitOutput(out('<domain><name>x</name><vcpu>two</vcpu></domain>')))).toThrow(/not a whole number/);
    const ok = buildInventory(splitOutput(out("<domain type='kvm'><name>x</name><memory unit='MiB'>2</memory></domain>")));
    expect(ok.domains[0]).toMatchObject({ name: 'x', sizeBytes: null, properties: { memoryBytes: 2 * MiB, vcpus: null, state: null, disks: [] } });
    expect(ok.host).toMatchObject({ libvirtVersion: '9.0.0', hypervisorVersion: null, nodeInfo: { cpus: 2, cpuModel: null, memoryBytes: null } });
  });
});
