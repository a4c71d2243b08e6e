/**
 * The registered hypervisors of one type: name, host, version (what the last inventory read),
 * site, how many VMs the catalog holds for each, and its last inventory; Register, Edit, Test
 * (the connection checks) and Unregister (after a confirmation), each shown only with its
 * permission (hypervisor.register / edit / deregister).
 */
import { useState } from 'react';
import { del } from '../api/client';
import type { ConnectionTest, Hypervisor, Task } from '../api/types';
import type { AppType } from '../lib/appTypes';
import { runConnectionTest } from '../lib/connectionTest';
import { plural } from '../lib/format';
import { useMe } from '../lib/me';
import { useAction } from '../lib/useAction';
import type { Polled } from '../lib/usePolled';
import { ConfirmDialog } from './ConfirmDialog';
import { Empty, Loaded } from './Feedback';
import { HypervisorForm } from './HypervisorForm';
import { EditDeleteButtons, ResourceTable, type Column } from './ResourceTable';
import { Section } from './Section';
import { StatusBadge } from './Status';
import { TestResult } from './TestResult';
import { Time } from './Time';

/** What the page knows of each hypervisor beyond its record (by id). */
export interface HypervisorStats {
  /** VMs its last inventory found (the catalog's count). */
  vms: number;
  /** When an inventory last found one of its VMs; null when it has none. */
  lastFound: number | null;
  /** Its task in the Hypervisor Inventory's last session, if that session covered it. */
  task?: Task;
}

interface Test {
  hypervisor: Hypervisor;
  busy: boolean;
  result?: ConnectionTest;
  error?: unknown;
}

function LastInventory({ stats }: { stats: HypervisorStats | undefined }) {
  const task = stats?.task;
  if (task) {
    const failed = task.status === 'FAILED';
    return (
      <>
        <StatusBadge status={task.status} /> {task.start !== null && <Time ms={task.end ?? task.start} />}
        {failed && task.message && <span className="sub">{task.message}</span>}
      </>
    );
  }
  if (stats?.lastFound) return <>VMs read <Time ms={stats.lastFound} /></>;
  return <span className="muted">{stats ? 'Not yet' : '…'}</span>;
}

export function Hypervisors({
  app, hypervisors, stats, onChanged, onShowVms,
}: {
  app: AppType;
  hypervisors: Polled<Hypervisor[]>;
  stats: ReadonlyMap<string, HypervisorStats> | undefined;
  /** After a registration, change or unregistration; `inventoryStarted` when a registration started one. */
  onChanged: (inventoryStarted: boolean) => void;
  /** Shows this hypervisor's VMs in the VM list. */
  onShowVms: (h: Hypervisor) => void;
}) {
  const { can } = useMe();
  const [editing, setEditing] = useState<Hypervisor | 'new' | null>(null);
  const [test, setTest] = useState<Test | null>(null);
  const [removing, setRemoving] = useState<Hypervisor | null>(null);
  const action = useAction();

  const edit = (h: Hypervisor | 'new') => {
    setEditing(h);
    action.say(null);
  };
  const runTest = async (h: Hypervisor) => {
    setTest({ hypervisor: h, busy: true });
    try {
      setTest({ hypervisor: h, busy: false, result: await runConnectionTest(h.links.test?.href ?? `/api/hypervisor/${h.id}?action=test`) });
    } catch (error) {
      setTest({ hypervisor: h, busy: false, error });
    }
  };
  const unregister = (h: Hypervisor) =>
    void action
      .run(`${h.id}:unregister`, () => del(h.links.delete?.href ?? `/api/hypervisor/${h.id}`), `Unregistered ${h.name}.`, () => {
        setTest((t) => (t?.hypervisor.id === h.id ? null : t));
        onChanged(false);
      })
      .then(() => setRemoving(null));

  const columns: Column<Hypervisor>[] = [
    { header: 'Name', cell: (h) => h.name },
    {
      header: 'Host',
      cell: (h) => (
        <span className="mono">
          {h.hostAddress}
          {h.portNumber !== null && h.portNumber !== app.defaultPort ? `:${h.portNumber}` : ''}
          {/* What else its collector connects with: the URI on the host (libvirt), or the TLS mode (vSphere). */}
          {app.defaultUri !== null && <span className="sub">{h.uri ?? app.defaultUri}</span>}
          {app.tls && <span className="sub">TLS: {h.tls}</span>}
        </span>
      ),
    },
    { header: 'Version', cell: (h) => h.version ?? <span className="muted">Not inventoried yet</span> },
    { header: 'Site', cell: (h) => h.siteName },
    {
      header: 'VMs',
      className: 'num',
      cell: (h) => {
        const s = stats?.get(h.id);
        if (!s) return <span className="muted">…</span>;
        return (
          <button type="button" className="btn btn-link" onClick={() => onShowVms(h)} aria-label={`Show the ${plural(s.vms, 'VM')} of ${h.name}`}>
            {s.vms}
          </button>
        );
      },
    },
    { header: 'Last inventory', cell: (h) => <LastInventory stats={stats?.get(h.id)} /> },
  ];

  const mayRegister = can('hypervisor.register');
  const mayEdit = can('hypervisor.edit');
  const mayUnregister = can('hypervisor.deregister');

  return (
    <Section
      title="Hypervisors"
      id="servers"
      description={`The ${app.servers} Census inventories${app.ssh ? ' over SSH' : app.tls ? ' over HTTPS' : ''}.`}
      actions={
        mayRegister && editing === null && (
          <button type="button" className="btn btn-secondary" onClick={() => edit('new')}>
            Register {app.server}
          </button>
        )
      }
    >
      {action.notices}
      {editing !== null && (
        <HypervisorForm
          key={editing === 'new' ? 'new' : editing.id}
          app={app}
          hypervisor={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(h, inventoried) => {
            const where = `${h.hostAddress}${h.portNumber ? `:${h.portNumber}` : ''}`;
            action.say(editing === 'new' ? `Registered ${h.name} (${where}).${inventoried ? ' Its inventory has started.' : ' Run an inventory to see its VMs.'}` : `Saved ${h.name}.`);
            setEditing(null);
            onChanged(inventoried);
          }}
        />
      )}
      {test && !test.busy && (
        <TestResult title={`Connection test of ${test.hypervisor.name}`} error={test.error} checks={test.result?.configGroups[0]?.tests ?? []} onHide={() => setTest(null)} />
      )}
      <Loaded state={hypervisors} what="hypervisors">
        {(list) => (
          <ResourceTable
            label={app.servers}
            rows={list}
            columns={columns}
            rowKey={(h) => h.id}
            rowData={(h) => ({ 'data-hypervisor': h.name })}
            empty={
              <Empty title={`No ${app.servers} are registered.`}>
                {mayRegister && (
                  <p>
                    Register one with <strong>Register {app.server}</strong>: Census needs its address and {app.ssh ? 'an SSH login' : 'a user name and password'} that may read its virtual machines.
                  </p>
                )}
              </Empty>
            }
            actions={
              mayEdit || mayUnregister
                ? (h) => (
                    <>
                      {mayEdit && (
                        <button type="button" className="btn btn-secondary btn-small" disabled={test?.busy} onClick={() => void runTest(h)} aria-label={`Test connection to ${h.name}`}>
                          {test?.busy && test.hypervisor.id === h.id ? 'Testing…' : 'Test'}
                        </button>
                      )}
                      {mayEdit && <EditDeleteButtons name={h.name} editDisabled={editing !== null} onEdit={() => edit(h)} />}
                      {mayUnregister && (
                        <button type="button" className="btn btn-danger-outline btn-small" onClick={() => setRemoving(h)} aria-label={`Unregister ${h.name}`}>
                          Unregister
                        </button>
                      )}
                    </>
                  )
                : undefined
            }
          />
        )}
      </Loaded>
      {removing && (
        <ConfirmDialog title={`Unregister ${removing.name}?`} confirmLabel="Unregister" danger busy={action.busy !== null} onCancel={() => setRemoving(null)} onConfirm={() => unregister(removing)}>
          <p>
            Census stops inventorying <strong>{removing.hostAddress}</strong> and its VMs leave the catalog. Job sessions and logs of earlier runs stay.
          </p>
        </ConfirmDialog>
      )}
    </Section>
  );
}
