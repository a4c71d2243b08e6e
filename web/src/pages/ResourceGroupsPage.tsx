/**
 * System Configuration › Resource groups (/api/security/resourcepool): named sets of application
 * servers a role applies to, chosen from the registered servers, or all of them now and later.
 * All Resources is built in and cannot change.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { del, get, messageOf, post, put, query } from '../api/client';
import type { AppServer, Envelope, ResourcePool } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice, Loaded, Notice } from '../components/Feedback';
import { PageHeader, Section } from '../components/Section';
import { StatusBadge } from '../components/Status';
import { useMe } from '../lib/me';
import { usePolled } from '../lib/usePolled';

const isAll = (p: ResourcePool) => p.resources.some((r) => r.type === 'appserver.all');

function serversText(p: ResourcePool): string {
  if (isAll(p)) return 'All application servers, now and later';
  if (!p.resources.length) return 'No servers';
  return p.resources.map((r) => r.name ?? `server ${r.id ?? '?'} (unregistered)`).join(', ');
}

export function ResourceGroupsPage() {
  useEffect(() => {
    document.title = 'Resource groups · Census';
  }, []);
  const { can } = useMe();
  const pools = usePolled(
    (signal) => get<Envelope & { resourcePools: ResourcePool[] }>('/api/security/resourcepool', signal).then((e) => e.resourcePools),
    'resource-groups',
    () => 60_000,
  );
  const [editing, setEditing] = useState<ResourcePool | 'new' | null>(null);
  const [removing, setRemoving] = useState<ResourcePool | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Picking servers needs to see them.
  const mayPick = can('appserver.view');

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    setError(null);
    try {
      await del(`/api/security/resourcepool/${removing.id}`);
      setDone(`Deleted the resource group ${removing.name}.`);
      pools.refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      setRemoving(null);
    }
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
            <button type="button" className="btn btn-secondary" onClick={() => { setEditing('new'); setDone(null); }}>
              Add resource group
            </button>
          )
        }
      >
        {done && <Notice tone="success">{done}</Notice>}
        {error ? <ErrorNotice error={error} /> : null}
        {editing !== null && (
          <PoolForm
            pool={editing === 'new' ? null : editing}
            onCancel={() => setEditing(null)}
            onSaved={(p) => {
              setDone(`${editing === 'new' ? 'Added' : 'Saved'} the resource group ${p.name}.`);
              setEditing(null);
              pools.refresh();
            }}
          />
        )}
        <Loaded state={pools} what="resource groups">
          {(list) => (
            <div className="table-wrap">
              <table className="table table-stack" aria-label="Resource groups">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Type</th>
                    <th scope="col">Application servers</th>
                    <th scope="col" className="col-actions">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((p) => (
                    <tr key={p.id} data-pool={p.name}>
                      <th scope="row">
                        {p.name}
                        {p.description && <span className="sub">{p.description}</span>}
                      </th>
                      <td data-label="Type">
                        <StatusBadge status={p.type} tone={p.type === 'BUILTIN' ? 'neutral' : 'info'} label={p.type === 'BUILTIN' ? 'Built-in' : 'Custom'} />
                      </td>
                      <td data-label="Application servers">{serversText(p)}</td>
                      <td className="col-actions">
                        {p.type !== 'BUILTIN' && (
                          <div className="row-actions">
                            {can('resourcepool.edit') && mayPick && (
                              <button type="button" className="btn btn-secondary btn-small" disabled={editing !== null} onClick={() => { setEditing(p); setDone(null); }} aria-label={`Edit ${p.name}`}>
                                Edit
                              </button>
                            )}
                            {can('resourcepool.delete') && (
                              <button type="button" className="btn btn-danger-outline btn-small" onClick={() => setRemoving(p)} aria-label={`Delete ${p.name}`}>
                                Delete
                              </button>
                            )}
                          </div>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Loaded>
      </Section>
      {removing && (
        <ConfirmDialog title={`Delete the resource group ${removing.name}?`} confirmLabel="Delete" danger busy={busy} onCancel={() => setRemoving(null)} onConfirm={() => void remove()}>
          <p>A group that a user holds cannot be deleted: take it from them first.</p>
        </ConfirmDialog>
      )}
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
  const [chosen, setChosen] = useState<Set<string>>(new Set((pool?.resources ?? []).flatMap((r) => (r.id ? [r.id] : []))));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const toggle = (id: string, on: boolean) =>
    setChosen((c) => {
      const n = new Set(c);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setError('Enter a name for the resource group.');
    setBusy(true);
    setError(null);
    const resources = all ? [{ href: '/api/appserver' }] : [...chosen].map((id) => ({ href: `/api/appserver/${id}` }));
    const body = { name: name.trim(), description, resources };
    try {
      onSaved(pool ? await put<ResourcePool>(`/api/security/resourcepool/${pool.id}`, body) : await post<ResourcePool>('/api/security/resourcepool', body));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="register-form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="pool-form-title">
      <h3 id="pool-form-title">{pool ? `Edit the resource group ${pool.name}` : 'Add a resource group'}</h3>
      {error && (
        <div className="notice notice-danger form-error" role="alert">
          <span className="notice-icon" aria-hidden="true">✕</span>
          <div>{error}</div>
        </div>
      )}
      <div className="form-grid">
        <div className="field">
          <label htmlFor="pool-name">Group name</label>
          <input id="pool-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required />
        </div>
        <div className="field">
          <label htmlFor="pool-description">Description (optional)</label>
          <input id="pool-description" value={description} onChange={(e) => setDescription(e.target.value)} autoComplete="off" />
        </div>
      </div>
      <label className="checkbox">
        <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> All application servers, now and later
      </label>
      {!all && (
        <Loaded state={servers} what="application servers">
          {(list) =>
            list.length === 0 ? (
              <p className="muted">No application servers are registered yet.</p>
            ) : (
              <fieldset className="permission-area">
                <legend>Application servers</legend>
                {list.map((s) => (
                  <label key={s.id} className="checkbox">
                    <input type="checkbox" checked={chosen.has(s.id)} onChange={(e) => toggle(s.id, e.target.checked)} /> {s.name}{' '}
                    <span className="muted">
                      {s.applicationType} · {s.hostAddress}
                    </span>
                  </label>
                ))}
              </fieldset>
            )
          }
        </Loaded>
      )}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : pool ? 'Save resource group' : 'Add resource group'}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
