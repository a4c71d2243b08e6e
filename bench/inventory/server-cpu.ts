/**
 * CPU used by the database servers themselves, read from /proc (Linux; the benchmark runs as
 * root, which `ss -p` needs to name another user's process). PostgreSQL forks a backend per
 * login: the postmaster reaps each one as it exits, so its cutime/cstime grow by the backend's
 * CPU, and (postmaster own + children) covers every finished connection. MariaDB/MySQL is one
 * process with a thread per connection: its own utime/stime cover them all.
 *
 * Other clients of the same servers during a measurement are counted too, so these are upper
 * bounds on what the measured tool caused.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

const TICKS = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout?.trim()) || 100;
})();

/** The process listening on 127.0.0.1:<port> or any address, or null if not visible. */
export function listenerPid(port: number): number | null {
  const r = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(r.stdout ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * The fields of /proc/<pid>/stat after "(comm)": state ppid pgrp session tty tpgid flags minflt
 * cminflt majflt cmajflt utime stime cutime cstime …; null once the process is gone.
 */
function statFields(pid: number | string): number[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  } catch {
    return null;
  }
}

/** CPU seconds of a process and its reaped children, or null if unreadable. */
export function cpuSeconds(pid: number | null): number | null {
  const f = pid === null ? null : statFields(pid);
  return f && (f[11]! + f[12]! + f[13]! + f[14]!) / TICKS;
}

/** CPU seconds of several processes (each with its reaped children), or null if one is unreadable. */
export function cpuSecondsOf(pids: readonly number[]): number | null {
  let sum = 0;
  for (const pid of pids) {
    const s = cpuSeconds(pid);
    if (s === null) return null;
    sum += s;
  }
  return sum;
}

/**
 * CPU seconds of each live child of `parent` (its own utime and stime), by pid. PostgreSQL's
 * backends that are still connected (a connection pool's) have not been reaped yet, so
 * cpuSeconds(postmaster) does not hold them: serverCpuSeconds adds them. A child gone meanwhile
 * was reaped, so its time is in the parent's children's time now.
 */
export function liveChildrenCpu(parent: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f && f[1] === parent) out.set(Number(name), (f[11]! + f[12]!) / TICKS);
  }
  return out;
}

/**
 * CPU seconds of a server process, its reaped children and its live ones. Between two readings
 * the difference is exact for PostgreSQL: a backend that exits in between moves from the live
 * sum into the postmaster's reaped time, with what it spent meanwhile.
 */
export function serverCpuSeconds(pid: number | null): number | null {
  const own = cpuSeconds(pid);
  if (own === null) return null;
  let live = 0;
  for (const c of liveChildrenCpu(pid!).values()) live += c;
  return own + live;
}

export interface ServerCpu {
  pg: number | null;
  my: number | null;
}

export class ServerCpuMeter {
  private readonly pgPid: number | null;
  private readonly myPid: number | null;

  constructor(pgPort: number, myPort: number) {
    this.pgPid = listenerPid(pgPort);
    this.myPid = listenerPid(myPort);
  }

  read(): ServerCpu {
    return { pg: serverCpuSeconds(this.pgPid), my: cpuSeconds(this.myPid) };
  }

  static delta(a: ServerCpu, b: ServerCpu): ServerCpu {
    return { pg: a.pg !== null && b.pg !== null ? b.pg - a.pg : null, my: a.my !== null && b.my !== null ? b.my - a.my : null };
  }
}

export const fmtCpu = (s: number | null) => (s === null ? '?' : `${s.toFixed(2)} s`);

/** CPU seconds the whole machine has been busy (all cores; /proc/stat: all but idle and iowait). */
export function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return busy / TICKS;
  } catch {
    return null;
  }
}

/**
 * How fast a PostgreSQL server takes bare logins (connect, `SELECT 1`, end), `at` at once, and
 * what each costs it in CPU (`serverCpu`: its CPU seconds so far, e.g. serverCpuSeconds of its
 * postmaster). A warm run of an unchanged estate logs in once a server, so this is the rate no
 * warm run can beat on the machine (the server forks a backend per login); and it is the figure
 * that tells one VM from another: a login cost its server 2.6 ms of CPU on some of this project's
 * VMs and 27.6 ms on others.
 */
export async function pgLoginRate(login: pg.ClientConfig, at: number, count: number, serverCpu: () => number | null): Promise<{ perSecond: number; cpuMs: number | null }> {
  const cpu0 = serverCpu();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: at }, async () => {
    while (next++ < count) {
      const c = new pg.Client(login);
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  // Let the server reap the last backends before reading its CPU (their time moves to the postmaster's children).
  await new Promise((resolve) => setTimeout(resolve, 300));
  const cpu1 = serverCpu();
  return { perSecond: count / seconds, cpuMs: cpu0 === null || cpu1 === null ? null : ((cpu1 - cpu0) * 1000) / count };
}
