/**
 * What the file collector runs on a Linux host and how it reads the answer. The script needs no
 * root and only what every Linux has (sh, uname, cat, /proc, GNU df); each part of the answer
 * comes after a marker line, so whatever a login shell prints first (a chatty .bashrc) is skipped.
 * Parsing is pure, so it is tested on captured text as well as on a live host.
 */

import type { CollectedDatabase, ReadinessFinding } from '../types.ts';

const MARK = '@@census:';

/**
 * The script, fed to `sh -s` on stdin (so the login shell, whatever it is, only has to start sh).
 * Every command reads /dev/null, not the rest of the script. `df -a` reports every mount (plain df
 * hides bind mounts and zero-size ones, which we decide about ourselves); `-x autofs` keeps it
 * from stat-ing automount points, which would mount them. df can hang on a network file system
 * whose server is gone, so it runs under `timeout` when there is one; if it times out, a second
 * `df -l` (local file systems only) still gets the local sizes.
 */
export function inventoryScript(dfTimeoutSeconds: number): string {
  const s = Math.max(1, Math.floor(dfTimeoutSeconds));
  return [
    'LC_ALL=C; export LC_ALL',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH',
    'if command -v timeout >/dev/null 2>&1; then T=yes; else T=; fi',
    `run_df() { if [ -n "$T" ]; then timeout -k 2 ${s} df "$@" </dev/null 2>&1; else df "$@" </dev/null 2>&1; fi; }`,
    `echo '${MARK}uname'`,
    'uname -s </dev/null; uname -r </dev/null; uname -m </dev/null; uname -n </dev/null',
    `echo '${MARK}os-release'`,
    'cat /etc/os-release </dev/null 2>/dev/null || cat /usr/lib/os-release </dev/null 2>/dev/null',
    `if [ -r /proc/self/mountinfo ]; then echo '${MARK}mountinfo'; cat /proc/self/mountinfo </dev/null; else echo '${MARK}mounts'; cat /proc/mounts </dev/null; fi`,
    `echo '${MARK}df'`,
    'run_df -a -P -T -B1 -x autofs; rc=$?',
    `echo "${MARK}df-exit $rc"`,
    'if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then',
    `  echo '${MARK}df-local'`,
    '  run_df -a -l -P -T -B1 -x autofs',
    `  echo "${MARK}df-local-exit $?"`,
    'fi',
    `echo '${MARK}end'`,
    '',
  ].join('\n');
}

/**
 * Pseudo and virtual file systems: not storage, never backup targets. Everything else is kept
 * (ext2/3/4, xfs, btrfs, zfs, f2fs, vfat/exfat/ntfs, nfs/nfs4, cifs/smb3, ceph, fuse.sshfs,
 * iso9660 ...), so a file system we have never heard of is listed rather than lost. Also left out:
 *  - tmpfs/ramfs (memory, empty after a reboot),
 *  - squashfs (read-only package images: Ubuntu snaps mount dozens of them),
 *  - overlay, except when it is "/" (a container's root): elsewhere it is a container's root file
 *    system seen from the Docker/containerd host, whose data lives on the host's own disk,
 *  - the FUSE helpers that show desktop or container views rather than storage,
 *  - and any mount df reports with 0 total bytes (df's own test for "not storage").
 */
const PSEUDO_TYPES: ReadonlySet<string> = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'devfs', 'tmpfs', 'ramfs', 'rootfs',
  'cgroup', 'cgroup2', 'cpuset', 'securityfs', 'pstore', 'bpf', 'tracefs', 'debugfs',
  'mqueue', 'hugetlbfs', 'fusectl', 'configfs', 'autofs', 'binfmt_misc', 'efivarfs',
  'rpc_pipefs', 'nfsd', 'nsfs', 'selinuxfs', 'smackfs', 'apparmorfs', 'usbfs', 'sockfs',
  'pipefs', 'anon_inodefs', 'zsmalloc', 'squashfs',
  'fuse.lxcfs', 'fuse.gvfsd-fuse', 'fuse.portal', 'fuse.snapfuse', 'fuse.xdg-document-portal',
]);

/** Read-only by design: a read-only mount of these is no finding. */
const READ_ONLY_BY_DESIGN: ReadonlySet<string> = new Set(['iso9660', 'udf', 'squashfs', 'erofs', 'cramfs', 'romfs']);

const NEARLY_FULL_PERCENT = 90;

export interface Mount {
  device: string;
  mountPoint: string;
  type: string;
  readOnly: boolean;
  /** "major:minor" and the directory of the file system mounted here (mountinfo only). */
  deviceId: string | null;
  root: string | null;
}

export interface DfRow {
  device: string;
  type: string;
  totalBytes: number | null;
  usedBytes: number | null;
  availableBytes: number | null;
  usePercent: number | null;
  mountPoint: string;
}

export interface HostFacts {
  kernelName: string | null;
  kernelRelease: string | null;
  arch: string | null;
  hostname: string | null;
  osRelease: Record<string, string>;
}

export interface DfRun {
  rows: DfRow[];
  /** Lines that were not rows: df's complaints ("df: /x: Permission denied"). */
  errors: string[];
  exitCode: number | null;
}

export interface ScriptOutput {
  facts: HostFacts;
  /** null when the output held no mount table at all. */
  mounts: Mount[] | null;
  df: DfRun | null;
  /** Only present when the first df timed out. */
  dfLocal: DfRun | null;
  complete: boolean;
}

/** Split the output into its marked sections; anything before the first marker is shell noise. */
function sections(stdout: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const rawLine of stdout.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.startsWith(MARK)) {
      const [name = '', ...rest] = line.slice(MARK.length).split(' ');
      if (name.endsWith('-exit')) {
        result.set(name, [rest.join(' ')]);
        current = null;
      } else {
        current = [];
        result.set(name, current);
      }
      continue;
    }
    current?.push(line);
  }
  return result;
}

export function parseScriptOutput(stdout: string): ScriptOutput {
  const parts = sections(stdout);
  const uname = parts.get('uname') ?? [];
  const nonEmpty = (s: string | undefined) => (s && s.trim() ? s.trim() : null);
  const facts: HostFacts = {
    kernelName: nonEmpty(uname[0]),
    kernelRelease: nonEmpty(uname[1]),
    arch: nonEmpty(uname[2]),
    hostname: nonEmpty(uname[3]),
    osRelease: parseOsRelease(parts.get('os-release') ?? []),
  };
  const mountinfo = parts.get('mountinfo');
  const procMounts = parts.get('mounts');
  const mounts = mountinfo ? parseMountinfo(mountinfo) : procMounts ? parseProcMounts(procMounts) : null;
  const dfRun = (name: string): DfRun | null => {
    const lines = parts.get(name);
    if (!lines) return null;
    const exit = parts.get(`${name}-exit`)?.[0];
    return { ...parseDf(lines), exitCode: exit !== undefined && /^\d+$/.test(exit) ? Number(exit) : null };
  };
  return {
    facts,
    mounts: mounts && mounts.length ? mounts : null,
    df: dfRun('df'),
    dfLocal: dfRun('df-local'),
    complete: parts.has('end'),
  };
}

/** os-release: KEY=value, the value optionally in single or double quotes (with \-escapes in ""). */
export function parseOsRelease(lines: string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of lines) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2]!;
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\`$])/g, '$1');
    } else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1);
    }
    result[m[1]!] = value;
  }
  return result;
}

/** The kernel writes space, tab, newline and backslash in paths as \040, \011, \012, \134. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function hasReadOnlyOption(options: string): boolean {
  return options.split(',').includes('ro');
}

/**
 * /proc/self/mountinfo: "id parent major:minor root mountpoint options [optional...] - type source
 * superoptions". Read-only if either the mount or the file system (super options) is.
 */
export function parseMountinfo(lines: string[]): Mount[] {
  const mounts: Mount[] = [];
  for (const line of lines) {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 10 || dash < 0 || fields.length < dash + 3) continue;
    const mountOptions = fields[5]!;
    const superOptions = fields[dash + 3] ?? '';
    mounts.push({
      deviceId: fields[2]!,
      root: unescapeMountField(fields[3]!),
      mountPoint: unescapeMountField(fields[4]!),
      type: unescapeMountField(fields[dash + 1]!),
      device: unescapeMountField(fields[dash + 2]!),
      readOnly: hasReadOnlyOption(mountOptions) || hasReadOnlyOption(superOptions),
    });
  }
  return mounts;
}

/** /proc/mounts: "device mountpoint type options dump pass". */
export function parseProcMounts(lines: string[]): Mount[] {
  const mounts: Mount[] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    mounts.push({
      device: unescapeMountField(fields[0]!),
      mountPoint: unescapeMountField(fields[1]!),
      type: unescapeMountField(fields[2]!),
      readOnly: hasReadOnlyOption(fields[3]!),
      deviceId: null,
      root: null,
    });
  }
  return mounts;
}

/**
 * `df -P -T -B1` rows: device, type, total, used, available, capacity, mount point. The device
 * may contain spaces, so the row is matched from both ends: the mount point is everything after
 * the capacity column and starts with "/". df prints "-" for a number it does not know.
 */
const DF_ROW = /^(.+?)\s+(\S+)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+%|-)\s+(\/.*)$/;

export function parseDf(lines: string[]): Omit<DfRun, 'exitCode'> {
  const rows: DfRow[] = [];
  const errors: string[] = [];
  const num = (s: string) => (s === '-' ? null : Number(s));
  for (const line of lines) {
    if (!line.trim() || /^Filesystem\s/.test(line)) continue;
    const m = DF_ROW.exec(line);
    if (!m) {
      errors.push(line.trim());
      continue;
    }
    rows.push({
      device: m[1]!,
      type: m[2]!,
      totalBytes: num(m[3]!),
      usedBytes: num(m[4]!),
      availableBytes: num(m[5]!),
      usePercent: m[6] === '-' ? null : Number(m[6]!.slice(0, -1)),
      mountPoint: m[7]!,
    });
  }
  return { rows, errors };
}

export function isPseudoFileSystem(mount: Pick<Mount, 'type' | 'mountPoint'>): boolean {
  if (mount.type === 'overlay') return mount.mountPoint !== '/';
  return PSEUDO_TYPES.has(mount.type);
}

/** Is `path` equal to `ancestor` or inside it? Both absolute. */
function within(path: string, ancestor: string): boolean {
  return ancestor === '/' || path === ancestor || path.startsWith(`${ancestor}/`);
}

export interface FileSystemsResult {
  databases: CollectedDatabase[];
  findings: ReadinessFinding[];
  warnings: string[];
}

/**
 * Turns the mount table and df's numbers into one CollectedDatabase per real file system.
 * `server` is how messages name the host.
 */
export function buildFileSystems(output: ScriptOutput, server: string): FileSystemsResult {
  const warnings: string[] = [];
  const mounts = output.mounts ?? [];

  // A mount point listed twice is over-mounted: only the last (topmost) mount is visible there.
  const visible = new Map<string, Mount>();
  for (const mount of mounts) {
    visible.delete(mount.mountPoint); // keep the later one in the later position
    visible.set(mount.mountPoint, mount);
  }

  // df -a stats each mount point; where df timed out, the local-only run may still have answered.
  const sizes = new Map<string, DfRow>();
  for (const row of output.df?.rows ?? []) sizes.set(row.mountPoint, row);
  for (const row of output.dfLocal?.rows ?? []) sizes.set(row.mountPoint, row);

  const real = [...visible.values()].filter((mount) => {
    if (isPseudoFileSystem(mount)) return false;
    const row = sizes.get(mount.mountPoint);
    return !(row && row.totalBytes === 0);
  });

  // Bind mounts: the same file system (device) mounted again, whole or a directory of it. A mount
  // whose directory lies inside another mount's directory of the same device shows the same data,
  // so it is folded into that one (kept: the one showing the most, then the shortest mount point).
  // Different directories side by side (btrfs subvolumes, separate NFS exports) stay separate.
  const ordered = [...real].sort(
    (a, b) => (a.root ?? '').length - (b.root ?? '').length || a.mountPoint.length - b.mountPoint.length || a.mountPoint.localeCompare(b.mountPoint),
  );
  const kept: { mount: Mount; alsoMountedAt: string[] }[] = [];
  for (const mount of ordered) {
    const host =
      mount.deviceId !== null && mount.root !== null
        ? kept.find((k) => k.mount.deviceId === mount.deviceId && k.mount.root !== null && within(mount.root!, k.mount.root))
        : undefined;
    if (host) host.alsoMountedAt.push(mount.mountPoint);
    else kept.push({ mount, alsoMountedAt: [] });
  }
  kept.sort((a, b) => a.mount.mountPoint.localeCompare(b.mount.mountPoint));

  const dfProblem = describeDfProblem(output, server);
  if (dfProblem) warnings.push(dfProblem);

  const databases: CollectedDatabase[] = [];
  const findings: ReadinessFinding[] = [];
  for (const { mount, alsoMountedAt } of kept) {
    const row = sizes.get(mount.mountPoint);
    if (!row) {
      const complaint = [...(output.df?.errors ?? []), ...(output.dfLocal?.errors ?? [])].find((e) => e.includes(mount.mountPoint));
      warnings.push(
        `size of file system "${mount.mountPoint}" on ${server} not read: ${complaint ?? 'df did not report it'}`,
      );
    }
    const properties: Record<string, unknown> = {
      device: mount.device,
      type: mount.type,
      usedBytes: row?.usedBytes ?? null,
      availableBytes: row?.availableBytes ?? null,
      usePercent: row?.usePercent ?? null,
      readOnly: mount.readOnly,
    };
    if (alsoMountedAt.length) properties.alsoMountedAt = alsoMountedAt.sort();
    databases.push({
      name: mount.mountPoint,
      sizeBytes: row?.totalBytes ?? null,
      owner: null,
      encoding: null,
      properties,
    });

    if (mount.readOnly && !READ_ONLY_BY_DESIGN.has(mount.type)) {
      findings.push({
        code: 'READ_ONLY_FILESYSTEM',
        message: `file system "${mount.mountPoint}" (${mount.type} on ${mount.device}) on ${server} is mounted read-only`,
        database: mount.mountPoint,
      });
    }
    if (row?.usePercent != null && row.usePercent >= NEARLY_FULL_PERCENT) {
      findings.push({
        code: 'FILESYSTEM_NEARLY_FULL',
        message: `file system "${mount.mountPoint}" on ${server} is ${row.usePercent}% full`,
        database: mount.mountPoint,
      });
    }
  }
  return { databases, findings, warnings };
}

/** A warning when df did not (fully) run; null when it did. */
function describeDfProblem(output: ScriptOutput, server: string): string | null {
  const df = output.df;
  if (!df) return `df did not run on ${server}; file-system sizes were not read`;
  switch (df.exitCode) {
    case 0:
    case 1: // some mount could not be read; its own warning names it
      return null;
    case 124:
    case 137:
      return output.dfLocal && output.dfLocal.rows.length
        ? `df did not finish on ${server} (a network file system whose server does not answer?); only local file systems have sizes`
        : `df did not finish on ${server} (a network file system whose server does not answer?); file-system sizes were not read`;
    case 126:
    case 127:
      return `df is not installed or may not be run on ${server}; file-system sizes were not read`;
    default:
      return `df failed on ${server} (exit ${df.exitCode ?? 'unknown'}${df.errors[0] ? `: ${df.errors[0]}` : ''}); sizes may be missing`;
  }
}
