/**
 * A real libvirt host for the KVM collector's tests, reached over SSH: the private sshd of
 * test/support/sshd.ts, whose key-login user gets a per-user libvirt ("qemu:///session": virsh
 * starts that user's own libvirtd with the QEMU driver; the system daemon is not used) holding:
 *  - a directory storage pool (started, autostart) over the run's directory,
 *  - domains on real images made with qemu-img: "web" (qcow2, 2 vCPUs, 512 MiB), "db" (2 of 4
 *    vCPUs, 768 of 1024 MiB, a qcow2 with 4 MiB written by qemu-io and a sparse raw disk, on the
 *    NAT network, autostart) and "tiny", started under TCG and paused at once (so it uses no CPU),
 *  - two networks: a NAT one (defined only: starting it needs root to make its bridge) and a
 *    bridge-mode one (started: libvirt does not create anything for it).
 * Every object is named "<prefix>-..." with the run's own prefix; stop() removes them and the
 * run's directory. Objects of earlier runs whose directory is gone are removed at start.
 *
 * Also here: testDriverXml(), a host file for libvirt's in-process "test:///PATH" driver (no
 * daemon) with as many domains as wanted, for large counts.
 *
 * scripts/ensure-libvirt.sh installs libvirt and QEMU when they are missing.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startSshd, type Sshd, type SshdOptions } from './sshd.ts';

const ENSURE_SCRIPT = fileURLToPath(new URL('../../scripts/ensure-libvirt.sh', import.meta.url));
const RUN_ROOT = '/var/tmp';
const RUN_DIR_PREFIX = 'census-kvm-';
const SESSION_URI = 'qemu:///session';
const MiB = 1024 * 1024;

function run(cmd: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 120_000, maxBuffer: 16 << 20, ...options }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

let ensured: Promise<void> | undefined;
function ensureLibvirt(): Promise<void> {
  ensured ??= run('sh', [ENSURE_SCRIPT]).then(() => undefined);
  return ensured;
}

interface Account {
  user: string;
  uid: number;
  gid: number;
  home: string;
}

async function account(user: string): Promise<Account> {
  const [, , uid, gid, , home] = (await run('getent', ['passwd', user])).trim().split(':');
  return { user, uid: Number(uid), gid: Number(gid), home: home! };
}

/** Runs a program as `who`, with a clean environment like an SSH login's (HOME decides where the session libvirt lives). */
function runAs(who: Account, cwd: string, cmd: string, args: string[]): Promise<string> {
  return run(
    'runuser',
    ['-u', who.user, '--', 'env', '-i', `HOME=${who.home}`, `USER=${who.user}`, 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C', cmd, ...args],
    { cwd },
  );
}

export interface TestDomain {
  name: string;
  uuid: string;
}

export interface LibvirtHost {
  sshd: Sshd;
  /** The URI to collect with. */
  uri: string;
  /** The login user's session socket: another user may not open it (the permission case). */
  sessionSocket: string;
  /** Every object of this run is named `${prefix}-...`. */
  prefix: string;
  /** The run's directory (owned by the login user); the pool's target is `${dir}/pool`. */
  dir: string;
  poolName: string;
  poolPath: string;
  natNetwork: string;
  bridgeNetwork: string;
  web: TestDomain & { image: string };
  db: TestDomain & { images: [string, string] };
  tiny: TestDomain & { image: string };
  /** virsh against the session, as the login user. */
  virsh(...args: string[]): Promise<string>;
  /** A program as the login user, in the run's directory. */
  runAsUser(cmd: string, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startLibvirtHost(sshdOptions: SshdOptions = {}): Promise<LibvirtHost> {
  await ensureLibvirt();
  const sshd = await startSshd(sshdOptions);
  const who = await account(sshd.user);
  const id = randomBytes(3).toString('hex');
  const prefix = `ck${id}`;
  const dir = join(RUN_ROOT, `${RUN_DIR_PREFIX}${id}`);
  const poolPath = join(dir, 'pool');
  await mkdir(poolPath, { recursive: true });
  await chmod(dir, 0o755);
  await chown(dir, who.uid, who.gid);
  await chown(poolPath, who.uid, who.gid);

  const as = (cmd: string, ...args: string[]) => runAs(who, dir, cmd, args);
  const virsh = (...args: string[]) => as('virsh', '-c', SESSION_URI, ...args);
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text, { mode: 0o644 });
    await chown(path, who.uid, who.gid);
    return path;
  };

  const names = {
    pool: `${prefix}-pool`,
    nat: `${prefix}-nat`,
    bridge: `${prefix}-br`,
    web: `${prefix}-web`,
    db: `${prefix}-db`,
    tiny: `${prefix}-tiny`,
  };
  const cleanup = async () => {
    for (const d of [names.web, names.db, names.tiny]) {
      await virsh('destroy', d).catch(() => {});
      await virsh('undefine', d).catch(() => {});
    }
    for (const n of [names.nat, names.bridge]) {
      await virsh('net-destroy', n).catch(() => {});
      await virsh('net-undefine', n).catch(() => {});
    }
    await virsh('pool-destroy', names.pool).catch(() => {});
    await virsh('pool-undefine', names.pool).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await removeStaleObjects(virsh);

    await virsh('pool-define-as', names.pool, 'dir', '--target', poolPath);
    await virsh('pool-start', names.pool);
    await virsh('pool-autostart', names.pool);

    await virsh(
      'net-define',
      await file(
        'nat.xml',
        `<network><name>${names.nat}</name><bridge name='${prefix}n'/><forward mode='nat'/><ip address='10.213.7.1' prefix='24'/></network>`,
      ),
    );
    await virsh('net-define', await file('br.xml', `<network><name>${names.bridge}</name><forward mode='bridge'/><bridge name='${prefix}b'/></network>`));
    await virsh('net-start', names.bridge);
    await virsh('net-autostart', names.bridge);

    const webImage = join(poolPath, 'web.qcow2');
    const dbImages: [string, string] = [join(poolPath, 'db.qcow2'), join(poolPath, 'db-data.raw')];
    const tinyImage = join(poolPath, 'tiny.qcow2');
    await as('qemu-img', 'create', '-q', '-f', 'qcow2', webImage, '1G');
    await as('qemu-img', 'create', '-q', '-f', 'qcow2', dbImages[0], '2G');
    await as('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 4M', dbImages[0]);
    await as('qemu-img', 'create', '-q', '-f', 'raw', dbImages[1], '100M');
    await as('qemu-img', 'create', '-q', '-f', 'qcow2', tinyImage, '64M');

    const web = { name: names.web, uuid: randomUUID(), image: webImage };
    const db = { name: names.db, uuid: randomUUID(), images: dbImages };
    const tiny = { name: names.tiny, uuid: randomUUID(), image: tinyImage };
    const disk = (path: string, format: string, target: string) =>
      `<disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${path}'/><target dev='${target}' bus='virtio'/></disk>`;
    await virsh(
      'define',
      await file(
        'web.xml',
        `<domain type='qemu'><name>${web.name}</name><uuid>${web.uuid}</uuid><title>Web server</title>
<memory unit='MiB'>512</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os>
<devices>${disk(webImage, 'qcow2', 'vda')}<interface type='user'><mac address='52:54:00:c0:00:01'/><model type='virtio'/></interface></devices></domain>`,
      ),
    );
    await virsh(
      'define',
      await file(
        'db.xml',
        `<domain type='qemu'><name>${db.name}</name><uuid>${db.uuid}</uuid><description>Orders &amp; billing</description>
<memory unit='GiB'>1</memory><currentMemory unit='MiB'>768</currentMemory><vcpu current='2'>4</vcpu><os><type arch='x86_64'>hvm</type></os>
<devices>${disk(dbImages[0], 'qcow2', 'vda')}${disk(dbImages[1], 'raw', 'vdb')}
<interface type='network'><mac address='52:54:00:c0:00:02'/><source network='${names.nat}'/><model type='e1000'/></interface></devices></domain>`,
      ),
    );
    await virsh('autostart', db.name);
    await virsh(
      'define',
      await file(
        'tiny.xml',
        `<domain type='qemu'><name>${tiny.name}</name><uuid>${tiny.uuid}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os><devices>${disk(tinyImage, 'qcow2', 'vda')}</devices></domain>`,
      ),
    );
    // Under TCG (no /dev/kvm needed); paused right away, so it costs memory but no CPU.
    await virsh('start', '--paused', tiny.name);

    return {
      sshd,
      uri: SESSION_URI,
      sessionSocket: join(who.home, '.cache', 'libvirt', 'libvirt-sock'),
      prefix,
      dir,
      poolName: names.pool,
      poolPath,
      natNetwork: names.nat,
      bridgeNetwork: names.bridge,
      web,
      db,
      tiny,
      virsh,
      runAsUser: as,
      async stop() {
        await cleanup();
        await sshd.stop();
      },
    };
  } catch (err) {
    await cleanup().catch(() => {});
    await sshd.stop();
    throw err;
  }
}

/** Objects of earlier runs that died before their stop(): their run directory is gone. */
async function removeStaleObjects(virsh: (...args: string[]) => Promise<string>): Promise<void> {
  const live = new Set((await readdir(RUN_ROOT)).filter((n) => n.startsWith(RUN_DIR_PREFIX)).map((n) => n.slice(RUN_DIR_PREFIX.length)));
  const stale = (name: string) => {
    const m = /^ck([0-9a-f]{6})-/.exec(name);
    return m !== null && !live.has(m[1]!);
  };
  const names = async (...args: string[]) => (await virsh(...args)).split('\n').map((l) => l.trim()).filter((l) => l && stale(l));
  for (const d of await names('list', '--all', '--name')) {
    await virsh('destroy', d).catch(() => {});
    await virsh('undefine', d).catch(() => {});
  }
  for (const n of await names('net-list', '--all', '--name')) {
    await virsh('net-destroy', n).catch(() => {});
    await virsh('net-undefine', n).catch(() => {});
  }
  for (const p of await names('pool-list', '--all', '--name')) {
    await virsh('pool-destroy', p).catch(() => {});
    await virsh('pool-undefine', p).catch(() => {});
  }
}

export interface TestDriverHost {
  /** test:///PATH */
  uri: string;
  path: string;
  domains: { name: string; uuid: string; vcpus: number; memoryMiB: number }[];
}

/**
 * Writes a host file for libvirt's test driver: `count` domains (vCPUs 1..4, memory 256..1024 MiB
 * in turn, one disk each), one directory pool and one NAT network. UUIDs are given, because the
 * test driver makes up new ones on every connection otherwise.
 */
export async function writeTestDriverHost(path: string, count: number): Promise<TestDriverHost> {
  const domains = Array.from({ length: count }, (_, i) => ({
    name: `vm-${String(i + 1).padStart(4, '0')}`,
    uuid: randomUUID(),
    vcpus: (i % 4) + 1,
    memoryMiB: 256 * ((i % 4) + 1),
  }));
  const xml = [
    '<node>',
    '<cpu><mhz>2400</mhz><model>Census test CPU</model><active>8</active><max>8</max><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>2</threads></cpu>',
    '<memory>16777216</memory>',
    ...domains.map(
      (d) =>
        `<domain type='test'><name>${d.name}</name><uuid>${d.uuid}</uuid><memory unit='MiB'>${d.memoryMiB}</memory><vcpu>${d.vcpus}</vcpu>` +
        `<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><source file='/images/${d.name}.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
    ),
    `<network><name>testnet</name><uuid>${randomUUID()}</uuid><bridge name='virbr9'/><forward mode='nat'/><ip address='192.168.9.1' netmask='255.255.255.0'/></network>`,
    `<pool type='dir'><name>images</name><uuid>${randomUUID()}</uuid><capacity>${100 * 1024 * MiB}</capacity><allocation>0</allocation><available>${100 * 1024 * MiB}</available><target><path>/images</path></target></pool>`,
    '</node>',
    '',
  ].join('\n');
  await writeFile(path, xml, { mode: 0o644 });
  return { uri: `test:///${path.replace(/^\/+/, '')}`, path, domains };
}
