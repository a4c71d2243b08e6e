/**
 * The VM catalog (GET /api/endeavour/catalog/hypervisor/vm) of one hypervisor type: every VM the
 * last inventories of its hypervisors found, or one hypervisor's, 25 a page, paged and filtered
 * on the server (a name filter sent as SPP's `*` pattern). What the hypervisor does not report
 * (libvirt: the guest OS) says so rather than showing a guess.
 */
import { useState } from 'react';
import { get, query } from '../api/client';
import type { Envelope, Hypervisor, Vm } from '../api/types';
import type { AppType } from '../lib/appTypes';
import { formatBytes } from '../lib/format';
import { usePolled } from '../lib/usePolled';
import { Empty, Loaded } from './Feedback';
import { SelectField, TextField } from './Form';
import { Pager, ResourceTable, type Column } from './ResourceTable';
import { Section } from './Section';
import { StatusBadge, type Tone } from './Status';

export const VM_PAGE_SIZE = 25;

const POWER: Record<string, { label: string; tone: Tone }> = {
  POWERED_ON: { label: 'Powered on', tone: 'success' },
  POWERED_OFF: { label: 'Powered off', tone: 'neutral' },
  SUSPENDED: { label: 'Suspended', tone: 'warning' },
};

function Power({ vm }: { vm: Vm }) {
  const state = vm.properties.powerSummary.powerState;
  const p = state ? POWER[state] : undefined;
  const raw = vm.properties.state ?? null;
  if (!state) return <span className="muted">{raw ? `Unknown (${raw})` : 'Unknown'}</span>;
  return (
    <>
      <StatusBadge status={state} label={p?.label} tone={p?.tone} />
      {raw && <span className="sub" title="The state as the hypervisor reports it">{raw}</span>}
    </>
  );
}

const bytes = (n: number | null | undefined) => (n === null || n === undefined ? <span className="muted">—</span> : formatBytes(n));

const COLUMNS: Column<Vm>[] = [
  { header: 'Name', cell: (v) => v.name },
  { header: 'Hypervisor', cell: (v) => v.properties.host },
  { header: 'Power state', cell: (v) => <Power vm={v} /> },
  { header: 'vCPUs', className: 'num', cell: (v) => v.properties.cpu ?? <span className="muted">—</span> },
  { header: 'Memory', className: 'num', cell: (v) => bytes(v.properties.memory) },
  { header: 'Committed', className: 'num', cell: (v) => bytes(v.properties.storageSummary.commited) },
  { header: 'Uncommitted', className: 'num', cell: (v) => bytes(v.properties.storageSummary.uncommited) },
  {
    header: 'OS',
    cell: (v) => (
      <>
        {v.properties.configInfo.osName ?? <span className="muted" title="The hypervisor does not report the guest operating system">Not known</span>}
        {(v.properties.osType || v.properties.arch) && <span className="sub">{[v.properties.osType, v.properties.arch].filter(Boolean).join(', ')}</span>}
      </>
    ),
  },
];

export interface VmFilter {
  /** A hypervisor's id, or '' for all. */
  hypervisorId: string;
  /** The name filter as typed (a part of the name; `*` is a wildcard). */
  name: string;
}

/** SPP's filter for what the person asked: the name as a `*…*` pattern, the hypervisor by id; always the page's type. */
function criteria(type: string, f: VmFilter) {
  const out: { property: string; value: unknown; op: string }[] = [{ property: 'hypervisorType', value: type, op: '=' }];
  const name = f.name.trim();
  if (name) out.push({ property: 'name', value: name.includes('*') ? name : `*${name}*`, op: '=' });
  if (f.hypervisorId) out.push({ property: 'hypervisorId', value: f.hypervisorId, op: '=' });
  return out;
}

export function VirtualMachines({
  app, hypervisors, filter, onFilter, refreshKey,
}: {
  app: AppType;
  hypervisors: Hypervisor[] | undefined;
  filter: VmFilter;
  onFilter: (f: VmFilter) => void;
  refreshKey: string;
}) {
  const [page, setPage] = useState(1);
  const [typed, setTyped] = useState(filter.name);
  const [shownFor, setShownFor] = useState(filter);
  // A filter set from outside (a hypervisor's VM count) starts at page 1 with its name shown.
  if (shownFor !== filter) {
    setShownFor(filter);
    setTyped(filter.name);
    setPage(1);
  }
  const q = query({ filter: criteria(app.type, filter), sort: [{ property: 'name', direction: 'ASC' }], pageSize: VM_PAGE_SIZE, pageStartIndex: (page - 1) * VM_PAGE_SIZE });
  const vms = usePolled(
    (signal) => get<Envelope & { children: Vm[] }>(`/api/endeavour/catalog/hypervisor/vm${q}&embed=${encodeURIComponent('(children(properties))')}`, signal),
    `vms:${q}`,
    () => 15_000,
    refreshKey,
  );
  const chosen = hypervisors?.find((h) => h.id === filter.hypervisorId);
  const filtered = filter.name.trim() !== '' || filter.hypervisorId !== '';

  return (
    <Section title="Virtual machines" id="vms" description={chosen ? `The VMs the last inventory of ${chosen.name} found.` : `The VMs the last inventory of each ${app.server} found.`}>
      <form
        className="toolbar filter-form"
        role="search"
        aria-label="Filter the virtual machines"
        onSubmit={(e) => {
          e.preventDefault();
          onFilter({ ...filter, name: typed });
        }}
      >
        <TextField id="vm-name" label="Name contains" value={typed} onChange={setTyped} placeholder="web, db-*" />
        <SelectField
          id="vm-hypervisor"
          label="Hypervisor"
          value={filter.hypervisorId}
          onChange={(hypervisorId) => onFilter({ name: typed, hypervisorId })}
          options={[{ value: '', label: `All ${app.servers}` }, ...(hypervisors ?? []).map((h) => ({ value: h.id, label: h.name }))]}
        />
        <div className="field field-button">
          <button type="submit" className="btn btn-primary">
            Filter
          </button>
        </div>
        {filtered && (
          <div className="field field-button">
            <button type="button" className="btn btn-link" onClick={() => onFilter({ name: '', hypervisorId: '' })}>
              Show all
            </button>
          </div>
        )}
      </form>
      <Loaded state={vms} what="the virtual machines">
        {(env) => (
          <>
            <ResourceTable
              label="Virtual machines"
              rows={env.children}
              columns={COLUMNS}
              rowKey={(v) => v.id}
              rowData={(v) => ({ 'data-vm': v.name })}
              empty={
                <Empty title={filtered ? 'No virtual machine matches the filter.' : 'No virtual machines have been inventoried yet.'}>
                  {!filtered && <p>Register a {app.server}, then run the inventory: the VMs it finds are listed here.</p>}
                </Empty>
              }
            />
            {env.total > 0 && <Pager label="Virtual machine pages" page={page} pageSize={VM_PAGE_SIZE} total={env.total} onPage={setPage} />}
          </>
        )}
      </Loaded>
    </Section>
  );
}
