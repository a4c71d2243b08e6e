/**
 * Manage Protection › Hypervisors: the page of one hypervisor type Census inventories (KVM,
 * VMware vSphere, …: one page per collector in the group, as Databases has). The Backup
 * section's Run Inventory button drives the Hypervisor Inventory (job 1005, every type); below
 * it the type's registered hypervisors, their VMs (the VM catalog) and what the last run changed.
 */
import { useState } from 'react';
import { get, query } from '../api/client';
import type { Envelope, Hypervisor, Task, Vm } from '../api/types';
import { BackupSection } from '../components/BackupSection';
import { ChangesTable } from '../components/Changes';
import { Notice } from '../components/Feedback';
import { Hypervisors, type HypervisorStats } from '../components/Hypervisors';
import { PageHeader, Section } from '../components/Section';
import { VirtualMachines, type VmFilter } from '../components/VirtualMachines';
import type { AppType } from '../lib/appTypes';
import { HYPERVISOR_INVENTORY, InventoryJobProvider, useInventoryJob } from '../lib/inventoryJob';
import { useMe } from '../lib/me';
import { Link } from '../lib/router';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

export function HypervisorPage({ app }: { app: AppType }) {
  useTitle(app.title);
  return (
    <InventoryJobProvider kind={HYPERVISOR_INVENTORY}>
      <PageHeader title={app.title} kicker={app.groupTitle ? `Manage Protection › ${app.groupTitle}` : 'Manage Protection'}>
        Register {app.servers}, run the Hypervisor Inventory, and see their virtual machines.
      </PageHeader>
      <BackupSection what="virtual machines" />
      <MaySeeHypervisors app={app} />
    </InventoryJobProvider>
  );
}

/** The hypervisors and their VMs need hypervisor.view; the Backup section only policy.view. */
function MaySeeHypervisors({ app }: { app: AppType }) {
  const { known, can } = useMe();
  if (!known) return null;
  if (can('hypervisor.view')) return <HypervisorContent app={app} />;
  return (
    <Section title="Hypervisors" id="servers">
      <Notice tone="info">Your roles do not let you see the {app.servers} or their virtual machines.</Notice>
    </Section>
  );
}

/**
 * Per hypervisor: the catalog's count of its VMs and when one was last found (one small read
 * each: the newest VM, with the total), and its task in the job's last session (policy.view).
 */
async function loadStats(ids: string[], sessionId: string | undefined, tasksAllowed: boolean, signal: AbortSignal): Promise<Map<string, HypervisorStats>> {
  const [counts, tasks] = await Promise.all([
    Promise.all(
      ids.map(async (id) => {
        const q = query({ filter: [{ property: 'hypervisorId', value: id, op: '=' }], sort: [{ property: 'catalogTime', direction: 'DESC' }], pageSize: 1 });
        const env = await get<Envelope & { children: Vm[] }>(`/api/endeavour/catalog/hypervisor/vm${q}`, signal);
        return [id, { vms: env.total, lastFound: env.children[0]?.catalogTime ?? null }] as const;
      }),
    ),
    sessionId && tasksAllowed
      ? get<Envelope & { tasks: Task[] }>(`/api/endeavour/jobsession/${sessionId}/task${query({ pageSize: 1000 })}`, signal).then((e) => e.tasks)
      : Promise.resolve([] as Task[]),
  ]);
  const byServer = new Map(tasks.filter((t) => t.appserverId !== null).map((t) => [t.appserverId!, t]));
  return new Map(counts.map(([id, c]) => [id, { ...c, ...(byServer.has(id) ? { task: byServer.get(id)! } : {}) }]));
}

function HypervisorContent({ app }: { app: AppType }) {
  const { job, inProgress } = useInventoryJob();
  const { can } = useMe();
  const last = job.data?.lastrun;
  // What the inventory found is re-read when a run starts or ends (here or anywhere else).
  const runKey = `${last?.sessionId ?? ''}:${inProgress ? 'running' : last?.status ?? ''}`;
  const [version, setVersion] = useState(0);
  const [vmFilter, setVmFilter] = useState<VmFilter>({ hypervisorId: '', name: '' });

  const hypervisors = usePolled(
    async (signal) => {
      const filter = [{ property: 'type', value: app.type }];
      const env = await get<Envelope & { hypervisors: Hypervisor[] }>(`/api/hypervisor${query({ filter, sort: [{ property: 'name', direction: 'ASC' }], pageSize: 1000 })}`, signal);
      return env.hypervisors;
    },
    `hypervisors:${app.type}`,
    () => 15_000,
    `${version}:${runKey}`,
  );
  const ids = hypervisors.data?.map((h) => h.id);
  const mayReadTasks = can('policy.view');
  const stats = usePolled(
    (signal) => loadStats(ids ?? [], last?.sessionId, mayReadTasks, signal),
    `hypervisor-stats:${ids?.join(',') ?? ''}`,
    // While a run goes on its tasks change; otherwise the run's end (runKey) reads them again.
    () => (inProgress ? 3_000 : 15_000),
    `${version}:${runKey}`,
  );
  const refreshKey = `${version}:${runKey}`;

  return (
    <>
      <Hypervisors
        app={app}
        hypervisors={hypervisors}
        stats={ids === undefined ? undefined : stats.data}
        onChanged={(started) => {
          setVersion((v) => v + 1);
          if (started) job.refresh();
        }}
        onShowVms={(h) => {
          setVmFilter({ hypervisorId: h.id, name: '' });
          document.getElementById('vms')?.scrollIntoView({ block: 'start' });
        }}
      />
      <VirtualMachines app={app} hypervisors={hypervisors.data} filter={vmFilter} onFilter={setVmFilter} refreshKey={refreshKey} />
      <Section
        title={inProgress ? 'Changes in the running inventory' : 'Changes in the last inventory'}
        id="changes"
        description={
          last ? (
            <>
              What session <Link to={`/jobs/sessions/${last.sessionId}`}>{last.sessionId}</Link> found new, gone or changed on these hypervisors: VMs that appeared or disappeared, and their vCPUs, memory, disks and power state.
            </>
          ) : undefined
        }
      >
        {!can('hypervisor.view') ? (
          <Notice tone="info">Your roles do not let you see the inventory's change history.</Notice>
        ) : !last ? (
          <p className="muted">The inventory has not run yet.</p>
        ) : ids === undefined ? (
          <p className="muted">Loading…</p>
        ) : (
          <ChangesTable sessionId={last.sessionId} appserverIds={ids} kind={app.servers} live={inProgress} refreshKey={runKey} />
        )}
      </Section>
    </>
  );
}
