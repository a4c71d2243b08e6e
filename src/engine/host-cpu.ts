/**
 * How busy this machine's CPUs are: the busy share of all cores' time over the last window of at
 * least WINDOW_MS, sampled when asked. A worker that shares its machine with an earlier one uses it
 * to take tasks only while cores are idle (pgboss-queue.ts, shareHost).
 *
 * On Linux from /proc/stat's first line (every core's time by mode since boot), where time stolen
 * by the hypervisor counts as busy: those cores were not there for us. Elsewhere from os.cpus(),
 * which has no steal.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * The kernel counts CPU time in ticks of 10 ms: over 100 ms two cores give 20 ticks, a share in
 * steps of 5 % that read under 90 % in many windows of a machine 98 % busy on average, and each
 * such reading let a later worker take tasks onto full cores (bench/README.md, scale: 0.82–0.87×
 * one worker with 100 ms windows, 0.94× with 500 ms; with added latency, where the cores have
 * room, 1.61×, as before).
 */
const WINDOW_MS = 500;

export type BusyShare = () => number;

/** CPU time of all cores since boot, in the source's units: busy, and busy + idle. */
export interface CpuTimes {
  busy: number;
  all: number;
}

function procStat(): CpuTimes | null {
  try {
    const line = readFileSync('/proc/stat', 'latin1').slice(0, 256).split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal (guest time is inside user)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((n) => !Number.isFinite(n))) return null;
    const idle = f[3]! + f[4]!;
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return { busy, all: busy + idle };
  } catch {
    return null;
  }
}

function osCpus(): CpuTimes {
  let busy = 0;
  let all = 0;
  for (const { times: t } of cpus()) {
    busy += t.user + t.nice + t.sys + t.irq;
    all += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, all };
}

let source: (() => CpuTimes | null) | undefined;
let lastRead: CpuTimes = { busy: 0, all: 0 };

/**
 * This machine's CPU times: /proc/stat on Linux, os.cpus() elsewhere, chosen at the first read
 * and kept (their units differ: a window must not mix them, and elsewhere /proc/stat is not tried
 * again every window). A read that fails gives the last one again: its window shows no change.
 */
export function cpuTimes(): CpuTimes {
  source ??= procStat() ? procStat : osCpus;
  lastRead = source() ?? lastRead;
  return lastRead;
}

/** A reader of the machine's busy share (0–1) over its last window; `now` and `read` are for tests. */
export function machineBusyShare(now: () => number = () => performance.now(), read: () => CpuTimes = cpuTimes): BusyShare {
  let last = { at: now(), ...read() };
  let share = 0;
  return () => {
    const at = now();
    if (at - last.at < WINDOW_MS) return share;
    const t = read();
    const all = t.all - last.all;
    if (all > 0) share = (t.busy - last.busy) / all;
    last = { at, ...t };
    return share;
  };
}
