/**
 * The Census host as sppmon reads it (spec §11.3, issue 12 point 6): /ngp/metrics and
 * /api/endeavour/sysdiag/filesystem answer SPP's shapes with real figures — the sizes are the
 * kernel's (statfs, /proc/self/mountinfo, checked against util-linux's findmnt and coreutils' df),
 * memory is os.totalmem() — and SPP's storage, SLA policy and storage profile collections answer
 * empty in SPP's envelope. The pure parts (mountinfo, device numbers, the CPU window) are checked
 * on their own too.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/clock.ts';
import { deviceNumber, mountOf, parseMountInfo } from '../src/services/host-filesystems.ts';
import { CpuSampler, cpuPercent, fileSystemStatus, hostMetricsService, type CpuReading } from '../src/services/host-metrics.ts';
import type { ServiceContext } from '../src/services/index.ts';
import { Store } from '../src/store/index.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { createPgSchema, PG_URL } from './support/stores.ts';

const statfsSize = (path: string) => {
  const s = statfsSync(path);
  return s.blocks * s.bsize;
};
/** What util-linux says holds `path`: its mount point and type (an independent reading of mountinfo). */
const findmnt = (path: string) => {
  const [target, fstype] = execFileSync('findmnt', ['-n', '-o', 'TARGET,FSTYPE', '-T', path], { encoding: 'utf8' }).trim().split(/\s+/);
  return { target: target!, fstype: fstype! };
};
/** coreutils df's bytes for the file system of `path`: size, used, available. */
const df = (path: string) => {
  const line = execFileSync('df', ['-B1', '--output=size,used,avail', path], { encoding: 'utf8' }).trim().split('\n')[1]!;
  const [size, used, avail] = line.trim().split(/\s+/).map(Number);
  return { size: size!, used: used!, avail: avail! };
};
const device = (path: string) => statSync(path).dev;

describe('mountinfo, device numbers and the CPU window', () => {
  it('reads mountinfo lines, with optional fields and escaped spaces, and skips what does not fit', () => {
    const text = [
      '26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '24 23 0:22 / /dev/shm rw,relatime - tmpfs tmpfs rw',
      '90 26 8:17 /data /srv/my\\040disk rw master:3 shared:7 - xfs /dev/sdb1 rw',
      'garbage line',
      '',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { device: '254:0', mountPoint: '/', fsType: 'ext4' },
      { device: '0:22', mountPoint: '/dev/shm', fsType: 'tmpfs' },
      { device: '8:17', mountPoint: '/srv/my disk', fsType: 'xfs' },
    ]);
  });

  it('splits st_dev as glibc does, small and large numbers alike, and agrees with this host', () => {
    expect(deviceNumber(65024n)).toBe('254:0');
    // makedev(259, 300): minor's high bits go above the major's low twelve.
    expect(deviceNumber(44n | (259n << 8n) | (256n << 12n))).toBe('259:300');
    // makedev(4096, 1): the major's high bits go above bit 32.
    expect(deviceNumber(1n | (4096n << 32n))).toBe('4096:1');
    const root = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).find((m) => m.mountPoint === '/')!;
    expect(deviceNumber(statSync('/', { bigint: true }).dev)).toBe(root.device);
  });

  it('picks the deepest mount of the device above the path; without one of the device, the deepest above it', () => {
    const mounts = [
      { device: '8:1', mountPoint: '/', fsType: 'ext4' },
      { device: '8:2', mountPoint: '/srv', fsType: 'xfs' },
      { device: '8:2', mountPoint: '/srv/bind', fsType: 'xfs' },
      { device: '0:40', mountPoint: '/srv/bind/tmp', fsType: 'tmpfs' },
    ];
    expect(mountOf('/srv/bind/census', '8:2', mounts)?.mountPoint).toBe('/srv/bind');
    expect(mountOf('/srv/other', '8:2', mounts)?.mountPoint).toBe('/srv');
    expect(mountOf('/srvx', '8:1', mounts)?.mountPoint).toBe('/');
    // A btrfs subvolume's own device is in no line: the deepest mount above the path.
    expect(mountOf('/srv/bind/tmp/x', '0:99', mounts)?.mountPoint).toBe('/srv/bind/tmp');
  });

  it('measures CPU use between readings at least a second apart, never from no time at all', () => {
    const at = (t: number, busy: number, total: number): CpuReading => ({ at: t, busy, total });
    expect(cpuPercent(at(0, 100, 1000), at(5000, 600, 2000))).toBe(50);
    expect(cpuPercent(at(0, 100, 1000), at(5000, 100, 1000))).toBeNull();
    const readings = [at(0, 0, 0), at(5000, 100, 1000), at(5500, 600, 2000), at(10_000, 1000, 3000), at(10_300, 1300, 3200)];
    let i = 0;
    const sampler = new CpuSampler(() => readings[i++]!, 5000, 1000); // takes readings[0]
    sampler.take(); // t=5000
    // Now t=5500: the newest kept reading a second old is t=0 (t=5000 is too recent).
    expect(sampler.utilization()).toBeCloseTo(((600 - 0) / 2000) * 100, 2);
    sampler.take(); // t=10000; keeps t=5000 and t=10000
    // Now t=10300: t=10000 is too recent, t=5000 is the window's start.
    expect(sampler.utilization()).toBeCloseTo(((1300 - 100) / (3200 - 1000)) * 100, 2);
  });

  it('says WARNING above 90 % used', () => {
    expect(fileSystemStatus(90)).toBe('NORMAL');
    expect(fileSystemStatus(90.01)).toBe('WARNING');
    expect(fileSystemStatus(0)).toBe('NORMAL');
  });
});

describe('/ngp/metrics and /api/endeavour/sysdiag/filesystem on SQLite', () => {
  let s: TestServer;
  let sid: string;
  // The data directory on the shared-memory tmpfs when there is one, so that Census's data lives
  // on two file systems (the data dir's, and the temp dir's).
  const shm = (() => {
    try {
      return device('/dev/shm') !== device(tmpdir()) ? mkdtempSync('/dev/shm/census-sysinfo-') : undefined;
    } catch {
      return undefined;
    }
  })();

  beforeAll(async () => {
    s = await startTestServer(shm ? { dataDir: shm } : {});
    sid = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
    if (shm) rmSync(shm, { recursive: true, force: true });
  });

  it('answers one object of real figures: memory is os.totalmem(), data the data dir\'s file system, data3 the temp dir\'s', async () => {
    const r = await s.req('GET', '/ngp/metrics', { sid });
    expect(r.status, r.text).toBe(200);
    const m = r.json;
    expect(Object.keys(m).sort()).toEqual(['cpuUtil', 'data', 'data2', 'data3', 'memory']);
    expect(m.memory.size).toBe(totalmem());
    expect(m.memory.util).toBeGreaterThan(0);
    expect(m.memory.util).toBeLessThan(100);
    expect(m.data.size).toBe(statfsSize(s.dataDir));
    // SQLite: the database file is in the data directory.
    expect(m.data2).toEqual(m.data);
    expect(m.data3.size).toBe(statfsSize(tmpdir()));
    for (const [k, path] of [['data', s.dataDir], ['data3', tmpdir()]] as const) {
      const d = df(path);
      // Use% as df counts it; the disk may change a little between the two readings.
      expect(m[k].util, k).toBeCloseTo((d.used / (d.used + d.avail)) * 100, 0);
    }
    if (shm) expect(m.data.size).not.toBe(m.data3.size);
  });

  it('answers cpuUtil as a percentage measured over a window, without waiting in the request', async () => {
    const m = await waitFor(async () => {
      const r = await s.req('GET', '/ngp/metrics', { sid });
      return r.json.cpuUtil === null ? undefined : r.json;
    }, 'a CPU window to be measured', 10_000);
    expect(typeof m.cpuUtil).toBe('number');
    expect(m.cpuUtil).toBeGreaterThanOrEqual(0);
    expect(m.cpuUtil).toBeLessThanOrEqual(100);
    const t0 = Date.now();
    await s.req('GET', '/ngp/metrics', { sid });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("lists the data directory, the database and the temporary directory under SPP's names, with df's sizes", async () => {
    const r = await s.req('GET', '/api/endeavour/sysdiag/filesystem', { sid });
    expect(r.status, r.text).toBe(200);
    // sppmon stores only SPP's names; on SQLite the database is in the data directory.
    const dirs = { Configuration: s.dataDir, Catalog: s.dataDir, System: tmpdir() } as const;
    const holds = { Configuration: 'data', Catalog: 'database', System: 'temp' } as const;
    expect(r.json.total).toBe(3);
    expect(r.json.filesystems.map((f: { name: string }) => f.name)).toEqual(['Configuration', 'Catalog', 'System']);
    expect(r.json.links.self.href).toContain('/api/endeavour/sysdiag/filesystem');
    for (const fs of r.json.filesystems) {
      const name = fs.name as keyof typeof dirs;
      const dir = dirs[name];
      expect(fs.holds).toBe(holds[name]);
      const mnt = findmnt(dir);
      expect(fs.mountPoint).toBe(mnt.target);
      expect(fs.type).toBe(mnt.fstype);
      expect(fs.totalSize).toBe(statfsSize(dir));
      const d = df(dir);
      expect(fs.totalSize).toBe(d.size);
      // Used and available move as other processes write: within 64 MiB of df's reading.
      expect(Math.abs(fs.usedSize - d.used)).toBeLessThan(64 * 2 ** 20);
      expect(Math.abs(fs.availableSize - d.avail)).toBeLessThan(64 * 2 ** 20);
      expect(fs.percentUsed).toBeCloseTo((fs.usedSize / (fs.usedSize + fs.availableSize)) * 100, 1);
      expect(fs.status).toBe(fs.percentUsed > 90 ? 'WARNING' : 'NORMAL');
    }
    if (shm) expect(r.json.filesystems.map((f: { type: string }) => f.type)).toContain('tmpfs');
  });

  it('pages the file systems like any collection', async () => {
    const all = (await s.req('GET', '/api/endeavour/sysdiag/filesystem', { sid })).json;
    const first = await s.req('GET', '/api/endeavour/sysdiag/filesystem?pageSize=1', { sid });
    // The sizes move as other processes write: the entries are told apart by their names.
    const names = (fss: { name: string }[]) => fss.map((f) => f.name);
    expect(names(first.json.filesystems)).toEqual(names(all.filesystems.slice(0, 1)));
    expect(first.json.total).toBe(all.total);
    if (all.total > 1) {
      const next = new URL(first.json.links.nextPage.href);
      const second = await s.req('GET', next.pathname + next.search, { sid });
      expect(second.json.page).toBe(2);
      expect(names(second.json.filesystems)).toEqual(names(all.filesystems.slice(1, 2)));
    } else {
      expect(first.json.links.nextPage).toBeUndefined();
    }
    const bad = await s.req('GET', '/api/endeavour/sysdiag/filesystem?pageSize=0', { sid });
    expect(bad.status).toBe(400);
    expect(bad.json.id).toBe('XSBInvalidArgumentException');
  });

  it('answers SPP\'s storage, SLA policy and storage profile collections empty, paging parameters taken', async () => {
    for (const [path, key] of [['/api/storage', 'storages'], ['/ngp/slapolicy', 'slapolicies'], ['/api/spec/storageprofile', 'storageprofiles']] as const) {
      const r = await s.req('GET', `${path}?pageSize=10&pageStartIndex=20&sort=${encodeURIComponent('[{"property":"name","direction":"ASC"}]')}`, { sid });
      expect(r.status, `${path}: ${r.text}`).toBe(200);
      expect(r.json[key]).toEqual([]);
      expect(r.json.total).toBe(0);
      expect(r.json.page).toBe(3);
      expect(r.json.links.self.href).toBe(`${s.url}${path}?pageSize=10&pageStartIndex=20&sort=${encodeURIComponent('[{"property":"name","direction":"ASC"}]')}`);
      expect(r.json.links.up).toBeDefined();
      expect(r.json.links.nextPage).toBeUndefined();
      const bad = await s.req('GET', `${path}?pageSize=abc`, { sid });
      expect(bad.status, path).toBe(400);
      // /ngp answers its errors wrapped, with id on top as well.
      expect(bad.json.id).toBe('XSBInvalidArgumentException');
      if (path.startsWith('/ngp/')) expect(bad.json.response.id).toBe('XSBInvalidArgumentException');
    }
  });

  it('needs a session, and the permission: a role without metrics.view gets 403', async () => {
    expect((await s.req('GET', '/ngp/metrics')).status).toBe(401);
    const made = await s.req('POST', '/api/security/user', { sid, body: { name: 'operator', password: 'First-Pass-1234', permissions: [{ resourcePoolId: 1000, roleIds: [1003] }] } });
    expect(made.status, made.text).toBe(201);
    const op = (await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'operator', password: 'First-Pass-1234' }, body: { newPassword: 'Operator-Pass-1234' } })).json.sessionid;
    for (const path of ['/ngp/metrics', '/api/endeavour/sysdiag/filesystem', '/api/storage', '/ngp/slapolicy', '/api/spec/storageprofile']) {
      const r = await s.req('GET', path, { sid: op });
      expect(r.status, path).toBe(403);
      expect(r.json.id).toBe('XSBAccessDeniedException');
    }
    // The admin's own login still works after all this (nothing above changed it).
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } })).status).toBe(200);
  });
});

describe('data2 on PostgreSQL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'census-sysinfo-pg-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const service = (store: Store) => hostMetricsService({ store, clock: systemClock } as unknown as ServiceContext, { dataDir }, new CpuSampler());

  it("is the file system of the server's data_directory when Census may read the setting", async () => {
    const { schema, drop } = await createPgSchema();
    const store = await Store.open({ url: PG_URL, schema });
    try {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      const dir = (await c.query('SHOW data_directory')).rows[0].data_directory as string;
      await c.end();
      const m = await service(store).metrics({ kind: 'system', name: 'test' } as never);
      expect(m.data2.size).toBe(statfsSize(dir));
      expect(m.data.size).toBe(statfsSize(dataDir));
      const fs = await service(store).filesystems({ kind: 'system', name: 'test' } as never);
      expect(fs.map((f) => f.holds)).toEqual(['data', 'database', 'temp']);
      expect(fs.find((f) => f.holds === 'database')).toMatchObject({ name: 'Catalog', mountPoint: findmnt(dir).target });
    } finally {
      await store.close();
      await drop();
    }
  });

  it('is null (never a guess) for a login that may not read data_directory, and the file system list leaves it out', async () => {
    const role = `census_np_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`CREATE SCHEMA ${role} AUTHORIZATION ${role}`);
    const url = PG_URL.replace(/\/\/[^@/]*@/, `//${role}@`);
    let store: Store | undefined;
    try {
      store = await Store.open({ url, schema: role });
      const denied = await store.executeSql("SELECT current_setting('data_directory')", []).then(() => false, () => true);
      expect(denied).toBe(true);
      const m = await service(store).metrics({ kind: 'system', name: 'test' } as never);
      expect(m.data2).toEqual({ size: null, util: null });
      expect(m.data.size).toBe(statfsSize(dataDir));
      const fs = await service(store).filesystems({ kind: 'system', name: 'test' } as never);
      expect(fs.map((f) => f.name)).toEqual(['Configuration', 'System']);
    } finally {
      await store?.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${role} CASCADE`);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });
});
