/**
 * System Configuration › Resource groups (/api/security/resourcepool): named sets of application
 * servers a role applies to, chosen from the registered servers, or all of them now and later.
 * All Resources is built in and cannot change.
 */
import { useState } from 'react';
import { get, post, put, query } from '../api/client';
import type { AppServer, Envelope, ResourcePool } from '../api/types';
import { Loaded } from '../components/Feedback';
import { Checkbox, FormCard, TextField, useChecklist, useSubmit } from '../components/Form';
import { EditDeleteButtons, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { TypeBadge } from '../components/Status';
import { useMe } from '../lib/me';
import { useAction, useDelete } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const isAll = (p: ResourcePool) => p.resources.some((r) => r.type === 'appserver.all');

function serversText(p: ResourcePool): string {
  if (isAll(p)) return 'All application servers, now and later';
  if (!p.resources.length) return 'No servers';
  return p.resources.map((r) => r.name ?? `server ${r.id ?? '?'} (unregistered)`).join(', ');
}

const COLUMNS: Column<ResourcePool>[] = [
  { header: 'Name', cell: (p) => <>{p.name}{p.description && <span className="sub">{p.description}</span>}</> },
  { header: 'Type', cell: (p) => <TypeBadge type={p.type} /> },
  { header: 'Application servers', cell: serversText },
];

export function ResourceGroupsPage() {
  useTitle('Resource groups');
  const { can } = useMe();
  const pools = usePolled(
    (signal) => get<Envelope & { resourcePools: ResourcePool[] }>('/api/security/resourcepool', signal).then((e) => e.resourcePools),
    'resource-groups',
    () => 60_000,
  );
  const [editing, setEditing] = useState<ResourcePool | 'new' | null>(null);
  const action = useAction();
  const remove = useDelete<ResourcePool>(action, { noun: 'the resource group', path: (p) => `/api/security/resourcepool/${p.id}`, then: pools.refresh, why: 'A group that a user holds cannot be deleted: take it from them first.' });
  // Picking servers needs to see them.
  const mayPick = can('appserver.view');
  const edit = (p: ResourcePool | 'new') => {
    setEditing(p);
    action.say(null);
  };

  return (
    <>
      <PageHeader title="Resource groups" kicker="System Configuration">
        A resource group names the application servers a role applies to: a user sees and acts on only the servers of their groups.
      </PageHeader>
      <Section
        title="Resource groups"
        id="resource-groups"
        actions={
          can('resourcepool.create') && mayPick && editing === null && (
            <button type="button" className="btn btn-secondary" onClick={() => edit('new')}>
              Add resource group
            </button>
          )
        }
      >
        {action.notices}
        {editing !== null && (
          <PoolForm
            pool={editing === 'new' ? null : editing}
            onCancel={() => setEditing(null)}
            onSaved={(p) => {
              action.say(`${editing === 'new' ? 'Added' : 'Saved'} the resource group ${p.name}.`);
              setEditing(null);
              pools.refresh();
            }}
          />
        )}
        <Loaded state={pools} what="resource groups">
          {(list) => (
            <ResourceTable
              label="Resource groups"
              rows={list}
              columns={COLUMNS}
              rowKey={(p) => p.id}
              rowData={(p) => ({ 'data-pool': p.name })}
              actions={(p) =>
                p.type !== 'BUILTIN' && (
                  <EditDeleteButtons name={p.name} editDisabled={editing !== null} onEdit={can('resourcepool.edit') && mayPick && (() => edit(p))} onDelete={can('resourcepool.delete') && (() => remove.ask(p))} />
                )
              }
            />
          )}
        </Loaded>
      </Section>
      {remove.dialog}
    </>
  );
}

function PoolForm({ pool, onSaved, onCancel }: { pool: ResourcePool | null; onSaved: (p: ResourcePool) => void; onCancel: () => void }) {
  const servers = usePolled(
    (signal) => get<Envelope & { appservers: AppServer[] }>(`/api/appserver${query({ sort: [{ property: 'name', direction: 'ASC' }], pageSize: 10_000 })}`, signal).then((e) => e.appservers),
    'pool-servers',
  );
  const [name, setName] = useState(pool?.name ?? '');
  const [description, setDescription] = useState(pool?.description ?? '');
  const [all, setAll] = useState(pool ? isAll(pool) : false);
  const [chosen, toggle] = useChecklist((pool?.resources ?? []).flatMap((r) => (r.id ? [r.id] : [])));
  const form = useSubmit();

  const submit = () => {
    const resources = all ? [{ href: '/api/appserver' }] : [...chosen].map((id) => ({ href: `/api/appserver/${id}` }));
    const body = { name: name.trim(), description, resources };
    return form.submit(
      async () => onSaved(pool ? await put<ResourcePool>(`/api/security/resourcepool/${pool.id}`, body) : await post<ResourcePool>('/api/security/resourcepool', body)),
      name.trim() ? null : 'Enter a name for the resource group.',
    );
  };

  return (
    <FormCard id="pool-form" title={pool ? `Edit the resource group ${pool.name}` : 'Add a resource group'} error={form.error} busy={form.busy} submitLabel={pool ? 'Save resource group' : 'Add resource group'} onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="pool-name" label="Group name" value={name} onChange={setName} required />
        <TextField id="pool-description" label="Description (optional)" value={description} onChange={setDescription} />
      </div>
      <Checkbox checked={all} onChange={setAll}>
        All application servers, now and later
      </Checkbox>
      {!all && (
        <Loaded state={servers} what="application servers">
          {(list) =>
            list.length === 0 ? (
              <p className="muted">No application servers are registered yet.</p>
            ) : (
              <fieldset className="permission-area">
                <legend>Application servers</legend>
                {list.map((s) => (
                  <Checkbox key={s.id} checked={chosen.has(s.id)} onChange={(on) => toggle(s.id, on)}>
                    {s.name}{' '}
                    <span className="muted">
                      {s.applicationType} · {s.hostAddress}
                    </span>
                  </Checkbox>
                ))}
              </fieldset>
            )
          }
        </Loaded>
      )}
    </FormCard>
  );
}
