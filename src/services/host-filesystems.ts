/**
 * The file systems under a directory of the Census host: which mount holds it (from
 * /proc/self/mountinfo, matched by the directory's device number) and how full it is (statfs).
 * Used by /ngp/metrics and /api/endeavour/sysdiag/filesystem (src/services/host-metrics.ts).
 */
import { readFileSync, realpathSync, statfsSync, statSync } from 'node:fs';

/** One line of /proc/self/mountinfo: what the kernel says is mounted where. */
export interface Mount {
  /** `major:minor` of the device, as st_dev gives it. */
  device: string;
  mountPoint: string;
  fsType: string;
}

/** mountinfo writes a space, tab, newline and backslash in a path as octal escapes (`\040`). */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * Reads mountinfo's format (proc(5)): `id parent major:minor root mountpoint options [optional…] - fstype source superoptions`.
 * Lines that do not fit are skipped rather than guessed at.
 */
export function parseMountInfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 7 || dash < 0 || dash + 1 >= fields.length || !/^\d+:\d+$/.test(fields[2]!)) continue;
    out.push({ device: fields[2]!, mountPoint: unescape(fields[4]!), fsType: fields[dash + 1]! });
  }
  return out;
}

/** st_dev split as glibc's major()/minor() do (Linux's 64-bit dev_t). */
export function deviceNumber(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

const under = (path: string, mountPoint: string) => mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);
const longest = (ms: Mount[]) => ms.reduce<Mount | undefined>((best, m) => (!best || m.mountPoint.length > best.mountPoint.length ? m : best), undefined);

/**
 * The mount holding `path` (a real path) on `device`. Several mounts can share a device (bind
 * mounts, the same file system mounted twice): the deepest one above the path is it. When no
 * mount carries the device (btrfs subvolumes report a device of their own), the deepest mount
 * above the path is.
 */
export function mountOf(path: string, device: string, mounts: readonly Mount[]): Mount | undefined {
  const same = mounts.filter((m) => m.device === device);
  return longest(same.filter((m) => under(path, m.mountPoint))) ?? same[0] ?? longest(mounts.filter((m) => under(path, m.mountPoint)));
}

/** Sizes in bytes, as `df` counts them. */
export interface Usage {
  totalSize: number;
  /** Blocks in use (total less free, the root-reserved blocks being free). */
  usedSize: number;
  /** What an unprivileged process can still write. */
  availableSize: number;
  /**
   * used / (used + available), in percent: `df`'s Use%, which counts the blocks reserved for
   * root as unavailable, so a file system Census can no longer write to shows 100.
   */
  percentUsed: number;
}

export function usageOf(path: string): Usage {
  const s = statfsSync(path);
  const total = s.blocks * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  const available = s.bavail * s.bsize;
  return { totalSize: total, usedSize: used, availableSize: available, percentUsed: used + available > 0 ? round2((used / (used + available)) * 100) : 0 };
}

export const round2 = (n: number) => Math.round(n * 100) / 100;

/** A directory's file system: the mount (null off Linux, where there is no mountinfo) and its use. */
export interface DirectoryFileSystem {
  path: string;
  /** `major:minor`: directories on one file system share it. */
  device: string;
  mount: Mount | null;
  usage: Usage;
}

function readMounts(): Mount[] | undefined {
  try {
    return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The file system of each directory that exists and can be looked at; the others are left out
 * (a path Census cannot stat is not guessed at). mountinfo is read once per call.
 */
export function fileSystemsOf(paths: readonly string[]): Map<string, DirectoryFileSystem> {
  const mounts = readMounts();
  const out = new Map<string, DirectoryFileSystem>();
  for (const p of paths) {
    try {
      const real = realpathSync(p);
      const device = deviceNumber(statSync(real, { bigint: true }).dev);
      out.set(p, { path: real, device, mount: mounts ? mountOf(real, device, mounts) ?? null : null, usage: usageOf(real) });
    } catch {
      // Gone, or not ours to look at (a PostgreSQL data directory behind a closed parent).
    }
  }
  return out;
}
