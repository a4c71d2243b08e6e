/**
 * System Configuration › Roles (/api/security/role): the built-in roles, which cannot change, and
 * custom ones made of the permissions GET /api/security/permission lists, chosen by checkbox.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { del, get, messageOf, post, put } from '../api/client';
import type { Envelope, PermissionInfo, Role } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice, Loaded, Notice } from '../components/Feedback';
import { PageHeader, Section } from '../components/Section';
import { StatusBadge } from '../components/Status';
import { useMe } from '../lib/me';
import { usePolled } from '../lib/usePolled';

/** `appserver.view` → `appserver`: the permissions are grouped by what they are about. */
const areaOf = (id: string) => id.slice(0, id.indexOf('.'));

export function RolesPage() {
  useEffect(() => {
    document.title = 'Roles · Census';
  }, []);
  const { can } = useMe();
  const roles = usePolled((signal) => get<Envelope & { roles: Role[] }>('/api/security/role', signal).then((e) => e.roles), 'roles', () => 60_000);
  const [editing, setEditing] = useState<Role | 'new' | null>(null);
  const [removing, setRemoving] = useState<Role | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    setError(null);
    try {
      await del(`/api/security/role/${removing.id}`);
      setDone(`Deleted the role ${removing.name}.`);
      roles.refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      setRemoving(null);
    }
  };

  return (
    <>
      <PageHeader title="Roles" kicker="System Configuration">
        A role is a set of permissions; a user holds a role on a resource group. Built-in roles cannot be changed.
      </PageHeader>
      <Section
        title="Roles"
        id="roles"
        actions={
          can('role.create') && editing === null && (
            <button type="button" className="btn btn-secondary" onClick={() => { setEditing('new'); setDone(null); }}>
              Add role
            </button>
          )
        }
      >
        {done && <Notice tone="success">{done}</Notice>}
        {error ? <ErrorNotice error={error} /> : null}
        {editing !== null && (
          <RoleForm
            role={editing === 'new' ? null : editing}
            onCancel={() => setEditing(null)}
            onSaved={(r) => {
              setDone(`${editing === 'new' ? 'Added' : 'Saved'} the role ${r.name}.`);
              setEditing(null);
              roles.refresh();
            }}
          />
        )}
        <Loaded state={roles} what="roles">
          {(list) => (
            <div className="table-wrap">
              <table className="table table-stack" aria-label="Roles">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Type</th>
                    <th scope="col">Permissions</th>
                    <th scope="col" className="col-actions">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.id} data-role={r.name}>
                      <th scope="row">
                        {r.name}
                        {r.description && <span className="sub">{r.description}</span>}
                      </th>
                      <td data-label="Type">
                        <StatusBadge status={r.type} tone={r.type === 'BUILTIN' ? 'neutral' : 'info'} label={r.type === 'BUILTIN' ? 'Built-in' : 'Custom'} />
                      </td>
                      <td data-label="Permissions" className="permission-list">
                        {r.permissionIds.length ? r.permissionIds.map((p) => <code key={p}>{p}</code>) : <span className="muted">None</span>}
                      </td>
                      <td className="col-actions">
                        {r.type !== 'BUILTIN' && (
                          <div className="row-actions">
                            {can('role.edit') && (
                              <button type="button" className="btn btn-secondary btn-small" disabled={editing !== null} onClick={() => { setEditing(r); setDone(null); }} aria-label={`Edit ${r.name}`}>
                                Edit
                              </button>
                            )}
                            {can('role.delete') && (
                              <button type="button" className="btn btn-danger-outline btn-small" onClick={() => setRemoving(r)} aria-label={`Delete ${r.name}`}>
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
        <ConfirmDialog title={`Delete the role ${removing.name}?`} confirmLabel="Delete" danger busy={busy} onCancel={() => setRemoving(null)} onConfirm={() => void remove()}>
          <p>A role that a user holds cannot be deleted: take it from them first.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

function RoleForm({ role, onSaved, onCancel }: { role: Role | null; onSaved: (r: Role) => void; onCancel: () => void }) {
  const permissions = usePolled(
    (signal) => get<Envelope & { permissions: PermissionInfo[] }>('/api/security/permission', signal).then((e) => e.permissions),
    'permissions',
  );
  const [name, setName] = useState(role?.name ?? '');
  const [description, setDescription] = useState(role?.description ?? '');
  const [chosen, setChosen] = useState<Set<string>>(new Set(role?.permissionIds ?? []));
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
    if (!name.trim()) return setError('Enter a name for the role.');
    setBusy(true);
    setError(null);
    const body = { name: name.trim(), description, permissionIds: [...chosen] };
    try {
      onSaved(role ? await put<Role>(`/api/security/role/${role.id}`, body) : await post<Role>('/api/security/role', body));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const areas = new Map<string, PermissionInfo[]>();
  for (const p of permissions.data ?? []) areas.set(areaOf(p.id), [...(areas.get(areaOf(p.id)) ?? []), p]);

  return (
    <form className="register-form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="role-form-title">
      <h3 id="role-form-title">{role ? `Edit the role ${role.name}` : 'Add a role'}</h3>
      {error && (
        <div className="notice notice-danger form-error" role="alert">
          <span className="notice-icon" aria-hidden="true">✕</span>
          <div>{error}</div>
        </div>
      )}
      <div className="form-grid">
        <div className="field">
          <label htmlFor="role-name">Role name</label>
          <input id="role-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required />
        </div>
        <div className="field">
          <label htmlFor="role-description">Description (optional)</label>
          <input id="role-description" value={description} onChange={(e) => setDescription(e.target.value)} autoComplete="off" />
        </div>
      </div>
      <Loaded state={permissions} what="the permissions">
        {() => (
          <div className="permission-grid">
            {[...areas].map(([area, list]) => (
              <fieldset key={area} className="permission-area">
                <legend>{area}</legend>
                {list.map((p) => (
                  <label key={p.id} className="checkbox">
                    <input type="checkbox" checked={chosen.has(p.id)} onChange={(e) => toggle(p.id, e.target.checked)} /> <code>{p.id}</code> <span className="muted">{p.description}</span>
                  </label>
                ))}
              </fieldset>
            ))}
          </div>
        )}
      </Loaded>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : role ? 'Save role' : 'Add role'}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
