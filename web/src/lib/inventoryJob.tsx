/**
 * An inventory job as a Manage Protection page sees it — the Application Server Inventory (job
 * 1004) on the application pages, the Hypervisor Inventory (job 1005) on the hypervisor pages —
 * found the way SPP's UI finds it (serviceId filter, jobs[0]) and re-read at links.self whenever
 * the live event stream (lib/events.ts) says the job or one of its sessions changed (job.status,
 * session.*), so the button turns back as soon as the job is IDLE. While the stream is up a slow
 * safety poll stays in place; without it (not yet open, refused, failing) the job is polled as
 * before: every second while it runs, every five seconds while idle (to notice runs started
 * elsewhere: another tab, another user, the schedule, a registration). Everything shown derives
 * from the server's answer.
 */
import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from 'react';
import { get, post, query } from '../api/client';
import { HYPERVISOR_INVENTORY_SERVICE_ID, INVENTORY_SERVICE_ID, type Envelope, type Job } from '../api/types';
import { idOf, useEvents, useStreamLive } from './events';
import { usePolled, type Polled } from './usePolled';

export const RUNNING_POLL_MS = 1_000;
export const IDLE_POLL_MS = 5_000;
/** The pace while the event stream is up: only a safety net. */
export const SAFETY_POLL_MS = 10_000;

/** Which inventory job a page drives: SPP's UI knows it by its serviceId. */
export interface InventoryJobKind {
  serviceId: string;
  /** The job's name, for the words around the button before the job is read. */
  name: string;
  /** What it connects to: "server", "hypervisor". */
  target: string;
}

export const APPLICATION_INVENTORY: InventoryJobKind = { serviceId: INVENTORY_SERVICE_ID, name: 'Application Server Inventory', target: 'server' };
export const HYPERVISOR_INVENTORY: InventoryJobKind = { serviceId: HYPERVISOR_INVENTORY_SERVICE_ID, name: 'Hypervisor Inventory', target: 'hypervisor' };

/** SPP's rule: the button says "Inventory In Progress" unless the job is IDLE or HELD. */
export const inventoryInProgress = (job: Job | undefined): boolean => !!job && job.status !== 'IDLE' && job.status !== 'HELD';

interface InventoryJobState {
  kind: InventoryJobKind;
  job: Polled<Job | null>;
  inProgress: boolean;
  starting: boolean;
  startError: unknown;
  run: () => Promise<void>;
}

const Ctx = createContext<InventoryJobState | null>(null);

export function InventoryJobProvider({ kind = APPLICATION_INVENTORY, children }: { kind?: InventoryJobKind; children: ReactNode }) {
  const selfHref = useRef<string | null>(null);
  const streamLive = useStreamLive();
  const job = usePolled<Job | null>(
    async (signal) => {
      if (selfHref.current) return get<Job>(selfHref.current, signal);
      const filter = [{ property: 'serviceId', value: kind.serviceId, op: '=' }];
      const list = await get<Envelope & { jobs: Job[] }>(`/api/endeavour/job${query({ filter })}`, signal);
      const found = list.jobs[0] ?? null;
      selfHref.current = found?.links.self?.href ?? null;
      return found;
    },
    `inventory-job:${kind.serviceId}`,
    (j) => (streamLive ? SAFETY_POLL_MS : inventoryInProgress(j ?? undefined) ? RUNNING_POLL_MS : IDLE_POLL_MS),
    // The stream opening or going away: read once now (nothing missed), then poll at the new pace.
    streamLive ? 'stream' : 'poll',
  );
  const jobId = job.data?.id;
  useEvents((e) => {
    if (e.type === 'reset') return job.poke();
    if (e.type !== 'job.status' && !e.type.startsWith('session.')) return;
    // Before the job is known, any job's change may be it.
    if (jobId === undefined || idOf(e, 'jobId') === jobId) job.poke();
  });
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<unknown>(null);

  const run = useCallback(async () => {
    const current = job.data;
    if (!current) return;
    setStarting(true);
    setStartError(null);
    try {
      let j = current;
      // A held job without a start link is released first, as SPP's UI does.
      if (!j.links.start && j.status === 'HELD' && j.links['release Schedule']) {
        j = await post<Job>(j.links['release Schedule'].href);
      }
      if (!j.links.start) throw new Error('The inventory job cannot be started right now.');
      job.set(await post<Job>(j.links.start.href));
    } catch (err) {
      setStartError(err);
      job.refresh();
    } finally {
      setStarting(false);
    }
  }, [job]);

  const value: InventoryJobState = { kind, job, inProgress: inventoryInProgress(job.data ?? undefined), starting, startError, run };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useInventoryJob(): InventoryJobState {
  const v = useContext(Ctx);
  if (!v) throw new Error('useInventoryJob outside InventoryJobProvider');
  return v;
}
