/** Parsing of the file collector's command output, on captured and hand-made text. */

import { describe, expect, it } from 'vitest';

import { buildFileSystems, inventoryScript, parseDf, parseMountinfo, parseOsRelease, parseProcMounts, parseScriptOutput } from './inventory.ts';

const SERVER = 'fs1 (10.0.0.5:22)';

interface MountLine {
  id: number;
  dev: string;
  root?: string;
  at: string;
  opts?: string;
  type: string;
  source: string;
  superOpts?: string;
}

const mountinfoLine = (m: MountLine) =>
  `${m.id} 1 ${m.dev} ${m.root ?? '/'} ${m.at} ${m.opts ?? 'rw,relatime'} shared:1 - ${m.type} ${m.source} ${m.superOpts ?? 'rw'}`;

const dfHeader = 'Filesystem     Type        1-blocks        Used   Available Capacity Mounted on';
const dfLine = (device: string, type: string, total: number, used: number, at: string) => {
  const avail = total - used;
  const pct = total === 0 ? '-' : `${Math.ceil((used * 100) / total)}%`;
  return `${device} ${type} ${Math.round(total)} ${Math.round(used)} ${Math.round(avail)} ${pct} ${at}`;
};

function output(parts: { mountinfo: MountLine[]; df?: string[] | null; dfExit?: number; dfLocal?: string[]; noise?: string; end?: boolean }): string {
  const lines = [
    parts.noise ?? '',
    '@@census:uname',
    'Linux',
    '6.1.0-18-amd64',
    'x86_64',
    'web01',
    '@@census:os-release',
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
    'ID=debian',
    '@@census:mountinfo',
    ...parts.mountinfo.map(mountinfoLine),
  ];
  if (parts.df !== null) {
    lines.push('@@census:df', dfHeader, ...(parts.df ?? []), `@@census:df-exit ${parts.dfExit ?? 0}`);
  }
  if (parts.dfLocal) lines.push('@@census:df-local', dfHeader, ...parts.dfLocal, '@@census:df-local-exit 0');
  if (parts.end !== false) lines.push('@@census:end');
  return lines.join('\n') + '\n';
}

const GiB = 1024 ** 3;

describe('parseScriptOutput', () => {
  it('skips what the login shell prints before the first marker and reads the host facts', () => {
    const parsed = parseScriptOutput(output({ noise: 'Welcome!\n@@not-a-marker', mountinfo: [{ id: 1, dev: '8:1', at: '/', type: 'ext4', source: '/dev/sda1' }], df: [] }));
    expect(parsed.facts).toEqual({
      kernelName: 'Linux',
      kernelRelease: '6.1.0-18-amd64',
      arch: 'x86_64',
      hostname: 'web01',
      osRelease: { PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)', ID: 'debian' },
    });
    expect(parsed.mounts).toHaveLength(1);
    expect(parsed.complete).toBe(true);
    expect(parsed.df?.exitCode).toBe(0);
  });

  it('has no mounts when the output has no markers (a shell that refused to run the script)', () => {
    const parsed = parseScriptOutput('This account is currently not available.\n');
    expect(parsed.mounts).toBeNull();
    expect(parsed.complete).toBe(false);
  });
});

describe('parsers', () => {
  it('os-release: quotes and escapes', () => {
    expect(parseOsRelease(['NAME="Foo \\"Bar\\""', "ID='foo'", 'VERSION_ID=1.2', '# comment', 'bad line'])).toEqual({
      NAME: 'Foo "Bar"',
      ID: 'foo',
      VERSION_ID: '1.2',
    });
  });

  it('mountinfo: octal escapes, optional fields, read-only from mount or super options', () => {
    const mounts = parseMountinfo([
      '36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue',
      '37 35 98:1 / /data ro,relatime - xfs /dev/sdb1 rw',
      '38 35 98:2 / /media/cd rw,relatime - iso9660 /dev/sr0 ro',
      'garbage',
    ]);
    expect(mounts).toEqual([
      { deviceId: '98:0', root: '/mnt1', mountPoint: '/mnt/with space', type: 'ext3', device: '/dev/root', readOnly: false },
      { deviceId: '98:1', root: '/', mountPoint: '/data', type: 'xfs', device: '/dev/sdb1', readOnly: true },
      { deviceId: '98:2', root: '/', mountPoint: '/media/cd', type: 'iso9660', device: '/dev/sr0', readOnly: true },
    ]);
  });

  it('/proc/mounts', () => {
    expect(parseProcMounts(['/dev/sda1 / ext4 rw,relatime 0 0', 'server:/export /mnt/my\\040share nfs4 ro,vers=4.2 0 0'])).toEqual([
      { device: '/dev/sda1', mountPoint: '/', type: 'ext4', readOnly: false, deviceId: null, root: null },
      { device: 'server:/export', mountPoint: '/mnt/my share', type: 'nfs4', readOnly: true, deviceId: null, root: null },
    ]);
  });

  it('df: devices and mount points with spaces, "-" for unknown numbers, complaints kept apart', () => {
    const { rows, errors } = parseDf([
      dfHeader,
      'model tools unavailable tmpfs 4096 0 4096 0% /mnt/some where',
      'binfmt_misc    binfmt_misc          0           0           0        - /proc/sys/fs/binfmt_misc',
      "df: /run/user/1000/doc: Permission denied",
    ]);
    expect(rows).toEqual([
      { device: 'model tools unavailable', type: 'tmpfs', totalBytes: 4096, usedBytes: 0, availableBytes: 4096, usePercent: 0, mountPoint: '/mnt/some where' },
      { device: 'binfmt_misc', type: 'binfmt_misc', totalBytes: 0, usedBytes: 0, availableBytes: 0, usePercent: null, mountPoint: '/proc/sys/fs/binfmt_misc' },
    ]);
    expect(errors).toEqual(['df: /run/user/1000/doc: Permission denied']);
  });
});

describe('buildFileSystems', () => {
  const typical: MountLine[] = [
    { id: 1, dev: '0:21', at: '/proc', type: 'proc', source: 'proc' },
    { id: 2, dev: '0:22', at: '/sys', type: 'sysfs', source: 'sysfs' },
    { id: 3, dev: '0:5', at: '/dev', type: 'devtmpfs', source: 'udev' },
    { id: 4, dev: '0:25', at: '/run', type: 'tmpfs', source: 'tmpfs' },
    { id: 5, dev: '8:1', at: '/', type: 'ext4', source: '/dev/sda1' },
    { id: 6, dev: '0:26', at: '/sys/fs/cgroup', type: 'cgroup2', source: 'cgroup2' },
    { id: 7, dev: '8:2', at: '/boot/efi', type: 'vfat', source: '/dev/sda2' },
    { id: 8, dev: '0:50', at: '/mnt/nfs', type: 'nfs4', source: 'nas:/export/backup' },
    { id: 9, dev: '7:3', at: '/snap/core/123', type: 'squashfs', source: '/dev/loop3', opts: 'ro' },
    { id: 10, dev: '0:60', at: '/var/lib/docker/overlay2/abc/merged', type: 'overlay', source: 'overlay' },
    { id: 11, dev: '0:61', at: '/media/usb', type: 'fuse.sshfs', source: 'me@host:/srv' },
  ];
  const typicalDf = [
    dfLine('/dev/sda1', 'ext4', 100 * GiB, 95 * GiB, '/'),
    dfLine('/dev/sda2', 'vfat', GiB, 0.1 * GiB, '/boot/efi'),
    dfLine('nas:/export/backup', 'nfs4', 1000 * GiB, 10 * GiB, '/mnt/nfs'),
    dfLine('me@host:/srv', 'fuse.sshfs', 50 * GiB, 1 * GiB, '/media/usb'),
    dfLine('proc', 'proc', 0, 0, '/proc'),
  ];

  it('keeps real file systems only, with their numbers', () => {
    const { databases, warnings } = buildFileSystems(parseScriptOutput(output({ mountinfo: typical, df: typicalDf })), SERVER);
    expect(warnings).toEqual([]);
    expect(databases.map((d) => d.name)).toEqual(['/', '/boot/efi', '/media/usb', '/mnt/nfs']);
    expect(databases[0]).toEqual({
      name: '/',
      sizeBytes: 100 * GiB,
      owner: null,
      encoding: null,
      properties: { device: '/dev/sda1', type: 'ext4', usedBytes: 95 * GiB, availableBytes: 5 * GiB, usePercent: 95, readOnly: false },
    });
    expect(databases[3]!.properties.type).toBe('nfs4');
  });

  it('finds nearly full and read-only file systems, but not read-only media', () => {
    const mounts: MountLine[] = [
      ...typical,
      { id: 20, dev: '8:17', at: '/archive', type: 'xfs', source: '/dev/sdb1', opts: 'ro,relatime' },
      { id: 21, dev: '11:0', at: '/media/cdrom', type: 'iso9660', source: '/dev/sr0', superOpts: 'ro' },
    ];
    const df = [...typicalDf, dfLine('/dev/sdb1', 'xfs', 10 * GiB, 9.5 * GiB, '/archive'), dfLine('/dev/sr0', 'iso9660', GiB, GiB, '/media/cdrom')];
    const { findings } = buildFileSystems(parseScriptOutput(output({ mountinfo: mounts, df })), SERVER);
    expect(findings).toEqual([
      { code: 'FILESYSTEM_NEARLY_FULL', message: `file system "/" on ${SERVER} is 95% full`, database: '/' },
      { code: 'READ_ONLY_FILESYSTEM', message: `file system "/archive" (xfs on /dev/sdb1) on ${SERVER} is mounted read-only`, database: '/archive' },
      { code: 'FILESYSTEM_NEARLY_FULL', message: `file system "/archive" on ${SERVER} is 95% full`, database: '/archive' },
      { code: 'FILESYSTEM_NEARLY_FULL', message: `file system "/media/cdrom" on ${SERVER} is 100% full`, database: '/media/cdrom' },
    ]);
  });

  it('folds bind mounts into the file system they show, but keeps btrfs subvolumes apart', () => {
    const mounts: MountLine[] = [
      { id: 1, dev: '0:30', root: '/@', at: '/', type: 'btrfs', source: '/dev/nvme0n1p2' },
      { id: 2, dev: '0:30', root: '/@home', at: '/home', type: 'btrfs', source: '/dev/nvme0n1p2' },
      { id: 3, dev: '0:30', root: '/@home/alice/shared', at: '/srv/shared', type: 'btrfs', source: '/dev/nvme0n1p2' },
      { id: 4, dev: '8:17', at: '/data', type: 'xfs', source: '/dev/sdb1' },
      { id: 5, dev: '8:17', at: '/mnt/data-again', type: 'xfs', source: '/dev/sdb1' },
      { id: 6, dev: '8:17', root: '/projects', at: '/projects', type: 'xfs', source: '/dev/sdb1' },
    ];
    const df = [
      dfLine('/dev/nvme0n1p2', 'btrfs', 500 * GiB, 100 * GiB, '/'),
      dfLine('/dev/nvme0n1p2', 'btrfs', 500 * GiB, 100 * GiB, '/home'),
      dfLine('/dev/nvme0n1p2', 'btrfs', 500 * GiB, 100 * GiB, '/srv/shared'),
      dfLine('/dev/sdb1', 'xfs', 10 * GiB, GiB, '/data'),
      dfLine('/dev/sdb1', 'xfs', 10 * GiB, GiB, '/mnt/data-again'),
      dfLine('/dev/sdb1', 'xfs', 10 * GiB, GiB, '/projects'),
    ];
    const { databases } = buildFileSystems(parseScriptOutput(output({ mountinfo: mounts, df })), SERVER);
    expect(databases.map((d) => [d.name, d.properties.alsoMountedAt])).toEqual([
      ['/', undefined],
      ['/data', ['/mnt/data-again', '/projects']],
      ['/home', ['/srv/shared']],
    ]);
  });

  it('keeps the topmost of two mounts on one mount point, and overlay only as "/"', () => {
    const mounts: MountLine[] = [
      { id: 1, dev: '0:40', at: '/', type: 'overlay', source: 'overlay' },
      { id: 2, dev: '8:1', at: '/srv', type: 'ext4', source: '/dev/sda1' },
      { id: 3, dev: '8:33', at: '/srv', type: 'xfs', source: '/dev/sdc1' },
    ];
    const df = [dfLine('overlay', 'overlay', 100 * GiB, GiB, '/'), dfLine('/dev/sdc1', 'xfs', 5 * GiB, GiB, '/srv')];
    const { databases } = buildFileSystems(parseScriptOutput(output({ mountinfo: mounts, df })), SERVER);
    expect(databases.map((d) => [d.name, d.properties.type])).toEqual([
      ['/', 'overlay'],
      ['/srv', 'xfs'],
    ]);
  });

  it('drops file systems df reports with 0 bytes', () => {
    const mounts: MountLine[] = [...typical, { id: 30, dev: '0:70', at: '/weird', type: 'someprocfs', source: 'none' }];
    const df = [...typicalDf, dfLine('none', 'someprocfs', 0, 0, '/weird')];
    const { databases } = buildFileSystems(parseScriptOutput(output({ mountinfo: mounts, df })), SERVER);
    expect(databases.map((d) => d.name)).not.toContain('/weird');
  });

  it('a df timeout keeps the mounts, takes the local sizes from the second run and warns', () => {
    const parsed = parseScriptOutput(
      output({ mountinfo: typical, df: [], dfExit: 124, dfLocal: typicalDf.filter((l) => !l.includes('nfs') && !l.includes('sshfs')) }),
    );
    const { databases, warnings } = buildFileSystems(parsed, SERVER);
    expect(databases.map((d) => [d.name, d.sizeBytes])).toEqual([
      ['/', 100 * GiB],
      ['/boot/efi', GiB],
      ['/media/usb', null],
      ['/mnt/nfs', null],
    ]);
    expect(warnings[0]).toContain('df did not finish');
    expect(warnings[0]).toContain('only local file systems have sizes');
    expect(warnings.slice(1)).toEqual([
      `size of file system "/media/usb" on ${SERVER} not read: df did not report it`,
      `size of file system "/mnt/nfs" on ${SERVER} not read: df did not report it`,
    ]);
  });

  it('without df the mounts are still listed, with a warning', () => {
    const parsed = parseScriptOutput(output({ mountinfo: typical, df: ['sh: 1: df: not found'], dfExit: 127 }));
    const { databases, warnings } = buildFileSystems(parsed, SERVER);
    expect(databases.map((d) => d.sizeBytes)).toEqual([null, null, null, null]);
    expect(warnings[0]).toBe(`df is not installed or may not be run on ${SERVER}; file-system sizes were not read`);
  });

  it('names the df complaint for a mount it could not read', () => {
    const parsed = parseScriptOutput(
      output({ mountinfo: typical, df: [...typicalDf.filter((l) => !l.includes('sshfs')), 'df: /media/usb: Transport endpoint is not connected'], dfExit: 1 }),
    );
    const { warnings } = buildFileSystems(parsed, SERVER);
    expect(warnings).toEqual([`size of file system "/media/usb" on ${SERVER} not read: df: /media/usb: Transport endpoint is not connected`]);
  });
});

describe('inventoryScript', () => {
  it('is plain sh with the df time box, and needs nothing from stdin', () => {
    const script = inventoryScript(7.9);
    expect(script).toContain('timeout -k 2 7 df');
    expect(script).toContain('df -a -P -T -B1 -x autofs');
    expect(script).not.toContain("'\"'");
  });
});
