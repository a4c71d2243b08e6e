/**
 * How the Census host is doing, for SPP's /ngp/metrics and /api/endeavour/sysdiag/filesystem
 * (spec §11.3; what each figure means for Census is in docs/compat.md, "Host metrics"): CPU
 * use over the last few seconds, memory, and the file systems of the data directory, the
 * database and the temporary directory. Every figure is measured; what cannot be (a PostgreSQL
 * server on another machine, a data directory Census may not read) is null.
 */
import { networkInterfaces, cpus, freemem, tmpdir, totalmem } from 'node:os';
import type { Actor } from '../core/actor.ts';
import type { ServiceContext } from './context.ts';
import { fileSystemsOf, round2, type DirectoryFileSystem } from './host-filesystems.ts';

/** Busy and total CPU time of all the host's CPUs, in ms, at one moment. */
export interface CpuReading {
  at: number;
  busy: number;
  total: number;
}

export function readCpuTimes(now = Date.now()): CpuReading {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const b = times.user + times.nice + times.sys + times.irq;
    busy += b;
    total += b + times.idle;
  }
  return { at: now, busy, total };
}

/** Percent of CPU time spent busy between two readings; null when no CPU time passed between them. */
export function cpuPercent(from: CpuReading, to: CpuReading): number | null {
  const total = to.total - from.total;
  if (total <= 0) return null;
  return round2(Math.min(100, Math.max(0, ((to.busy - from.busy) / total) * 100)));
}

/**
 * Keeps the CPU times of the last few seconds, read every `intervalMs` by a timer that does not
 * keep the process alive, so a request answers at once: its reading is compared with the newest
 * kept one at least `minWindowMs` old (a window of minWindowMs to intervalMs + minWindowMs).
 */
export class CpuSampler {
  private readings: CpuReading[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly read: () => CpuReading = () => readCpuTimes(),
    private readonly intervalMs = 5_000,
    private readonly minWindowMs = 1_000,
  ) {
    this.take();
  }

  /** Starts the timer (idempotent). */
  start(): this {
    this.timer ??= setInterval(() => this.take(), this.intervalMs).unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Records a reading; the two newest are all a window needs. */
  take(): CpuReading {
    const r = this.read();
    this.readings = [...this.readings.slice(-1), r];
    return r;
  }

  /** CPU use, in percent, from the newest kept reading at least minWindowMs old (else the oldest) to now. */
  utilization(): number | null {
    const now = this.read();
    const old = [...this.readings].reverse().find((r) => now.at - r.at >= this.minWindowMs) ?? this.readings[0];
    return old ? cpuPercent(old, now) : null;
  }
}

/** Size and use of one file system, SPP's `{size, util}`; both null when it is not known. */
export interface SizeUtil {
  size: number | null;
  util: number | null;
}

export interface HostMetrics {
  cpuUtil: number | null;
  memory: SizeUtil;
  /** The data directory's file system. */
  data: SizeUtil;
  /** The database's: SQLite's file, or PostgreSQL's data_directory when the server is on this host and says where it is. */
  data2: SizeUtil;
  /** The temporary directory's (os.tmpdir()). */
  data3: SizeUtil;
}

/** What Census keeps where: the roles a file system can hold. */
export type DataRole = 'data' | 'database' | 'temp';

/** SPP's names for its file systems, by what Census keeps on them. */
const SPP_NAMES: Record<DataRole, string> = { data: 'Configuration', database: 'Catalog', temp: 'System' };

export interface HostFileSystem {
  /** SPP's name: Configuration, Catalog or System. */
  name: string;
  /** Where it is mounted (the directory itself where there is no mount table). */
  mountPoint: string;
  type: string | null;
  status: 'NORMAL' | 'WARNING';
  totalSize: number;
  usedSize: number;
  availableSize: number;
  percentUsed: number;
  holds: DataRole;
}

/** A file system this full (percent used, `df`'s way) is reported as WARNING. */
export const FILESYSTEM_WARNING_PERCENT = 90;
export const fileSystemStatus = (percentUsed: number): HostFileSystem['status'] => (percentUsed > FILESYSTEM_WARNING_PERCENT ? 'WARNING' : 'NORMAL');

const UNKNOWN: SizeUtil = { size: null, util: null };
const sizeUtil = (fs: DirectoryFileSystem | undefined): SizeUtil => (fs ? { size: fs.usage.totalSize, util: fs.usage.percentUsed } : UNKNOWN);

export interface HostOptions {
  /** The data directory (`--data-dir`); on SQLite the database file (census.db) is in it. Null: not known. */
  dataDir: string | null;
}

/** How long the PostgreSQL server's data directory is remembered (it moves only with a restart of that server). */
const PG_DIRECTORY_TTL_MS = 5 * 60_000;

/** Whether an address the PostgreSQL server answered from is this host's own. */
function isOwnAddress(addr: string): boolean {
  const a = addr.replace(/\/\d+$/, '').replace(/^::ffff:(?=\d+\.)/i, '');
  if (a === '::1' || a.startsWith('127.')) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === a));
}

export function hostMetricsService(ctx: ServiceContext, options: HostOptions, sampler = new CpuSampler().start()) {
  const { store } = ctx;
  let pgDirectory: { path: string | null; until: number } | undefined;

  /**
   * PostgreSQL's data directory, when the server is on this host (it answered over a Unix socket
   * or from one of this host's addresses) and lets Census read the setting (superuser or
   * pg_read_all_settings); otherwise null. Remembered for a few minutes.
   */
  async function postgresDirectory(): Promise<string | null> {
    const now = ctx.clock.now();
    if (pgDirectory && pgDirectory.until > now) return pgDirectory.path;
    let path: string | null = null;
    try {
      // executeSql: a server setting, not a table of Census's; camelCase keys come back.
      const { rows } = await store.executeSql("SELECT current_setting('data_directory') AS dir, host(inet_server_addr()) AS addr", []);
      const row = rows[0] as { dir?: unknown; addr?: unknown } | undefined;
      const local = row?.addr === null || row?.addr === undefined || isOwnAddress(String(row.addr));
      if (typeof row?.dir === 'string' && row.dir !== '' && local) path = row.dir;
    } catch {
      // Not allowed to read it (neither superuser nor pg_read_all_settings): unknown.
    }
    pgDirectory = { path, until: now + PG_DIRECTORY_TTL_MS };
    return path;
  }

  /** The directory of each role; null where it is not known. */
  async function directories(): Promise<Record<DataRole, string | null>> {
    // SQLite's census.db is in the data directory (src/main.ts): the same file system.
    const database = store.dialect === 'sqlite' ? options.dataDir : await postgresDirectory();
    return { data: options.dataDir, database, temp: tmpdir() };
  }

  async function measured() {
    const dirs = await directories();
    const found = fileSystemsOf(Object.values(dirs).filter((d): d is string => d !== null));
    const of = (role: DataRole) => (dirs[role] === null ? undefined : found.get(dirs[role]!));
    return { of };
  }

  return {
    /** SPP's /ngp/metrics. */
    async metrics(_actor: Actor): Promise<HostMetrics> {
      const { of } = await measured();
      const total = totalmem();
      // freemem() is the kernel's MemAvailable on Linux: page cache that can be dropped counts as free.
      const used = total - freemem();
      return {
        cpuUtil: sampler.utilization(),
        memory: { size: total, util: total > 0 ? round2((used / total) * 100) : null },
        data: sizeUtil(of('data')),
        data2: sizeUtil(of('database')),
        data3: sizeUtil(of('temp')),
      };
    },

    /**
     * One entry per kind of data Census keeps, named as SPP names its own (sppmon stores only the
     * names Configuration, Search, System and Catalog, and stops on any other): the data directory
     * is "Configuration", the database "Catalog", the temporary directory "System". Census has no
     * search index, so no "Search". Two entries on one file system show the same figures.
     */
    async filesystems(_actor: Actor): Promise<HostFileSystem[]> {
      const { of } = await measured();
      const list: HostFileSystem[] = [];
      for (const role of ['data', 'database', 'temp'] as const) {
        const fs = of(role);
        if (!fs) continue;
        const u = fs.usage;
        list.push({
          name: SPP_NAMES[role],
          // Off Linux there is no mountinfo: the directory itself names it.
          mountPoint: fs.mount?.mountPoint ?? fs.path,
          type: fs.mount?.fsType ?? null,
          status: fileSystemStatus(u.percentUsed),
          totalSize: u.totalSize, usedSize: u.usedSize, availableSize: u.availableSize, percentUsed: u.percentUsed,
          holds: role,
        });
      }
      return list;
    },

    /** Stops the CPU sampler (at shutdown). */
    stop(): void {
      sampler.stop();
    },
  };
}

export type HostMetricsService = ReturnType<typeof hostMetricsService>;
