/** How a job session's outcome reads in a sentence. */
import type { JobSession, SessionStatistic } from '../api/types';
import { plural } from './format';

const NOUNS: Record<string, [string, string]> = {
  appserver: ['server', 'servers'],
  hypervisor: ['hypervisor', 'hypervisors'],
  vm: ['VM', 'VMs'],
  instance: ['instance', 'instances'],
  database: ['database', 'databases'],
  filesystem: ['file system', 'file systems'],
};
const noun = (type: string, n: number) => {
  const [one, many] = NOUNS[type] ?? [type, `${type}s`];
  return plural(n, one, many);
};

/** What a session's tasks ran on: application servers (job 1004) or hypervisors (job 1005). */
const TARGETS = new Set(['appserver', 'hypervisor']);

/** "1 of 2 servers done, 1 failed" — or "No servers to inventory". */
export function serversOutcome(stats: SessionStatistic[]): string | null {
  const a = stats.find((x) => TARGETS.has(x.resourceType));
  if (!a) return null;
  if (a.total === 0) return `No ${(NOUNS[a.resourceType] ?? [a.resourceType, `${a.resourceType}s`])[1]} to inventory`;
  const parts = [`${a.success} of ${noun(a.resourceType, a.total)} done`];
  if (a.failed) parts.push(`${a.failed} failed`);
  if (a.skipped) parts.push(`${a.skipped} skipped`);
  return parts.join(', ');
}

/** "2 databases new, 1 instance gone" — what the run changed; null when nothing. */
export function changesOutcome(stats: SessionStatistic[]): string | null {
  const parts: string[] = [];
  for (const [key, word] of [['appeared', 'new'], ['disappeared', 'gone'], ['changed', 'changed']] as const) {
    const items = stats.filter((x) => !TARGETS.has(x.resourceType) && (x[key] ?? 0) > 0).map((x) => noun(x.resourceType, x[key] ?? 0));
    if (items.length) parts.push(`${items.join(', ')} ${word}`);
  }
  return parts.length ? parts.join('; ') : null;
}

/** One line for lists: the servers' outcome and what changed, else the result word if it adds anything. */
export function sessionResult(s: JobSession): string {
  const stats = s.properties?.statistics ?? [];
  const lines = [serversOutcome(stats), changesOutcome(stats)].filter((x): x is string => !!x);
  if (lines.length) return lines.join(' · ');
  return s.results && s.results !== 'Started' && s.results.toUpperCase() !== s.status ? s.results : '';
}
