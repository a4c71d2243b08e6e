/**
 * System Configuration › Roles (/api/security/role): the built-in roles, which cannot change, and
 * custom ones made of the permissions GET /api/security/permission lists, chosen by checkbox.
 */
import { useState } from 'react';
import { get, post, put } from '../api/client';
import type { Envelope, PermissionInfo, Role } from '../api/types';
import { Loaded } from '../components/Feedback';
import { Checkbox, FormCard, TextField, useChecklist, useSubmit } from '../components/Form';
import { EditDeleteButtons, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { TypeBadge } from '../components/Status';
import { useMe } from '../lib/me';
import { useAction, useDelete } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

/** `appserver.view` → `appserver`: the permissions are grouped by what they are about. */
const areaOf = (id: string) => id.slice(0, id.indexOf('.'));

const COLUMNS: Column<Role>[] = [
  { header: 'Name', cell: (r) => <>{r.name}{r.description && <span className="sub">{r.description}</span>}</> },
  { header: 'Type', cell: (r) => <TypeBadge type={r.type} /> },
  { header: 'Permissions', className: 'permission-list', cell: (r) => (r.permissionIds.length ? r.permissionIds.map((p) => <code key={p}>{p}</code>) : <span className="muted">None</span>) },
];

export function RolesPage() {
  useTitle('Roles');
  const { can } = useMe();
  const roles = usePolled((signal) => get<Envelope & { roles: Role[] }>('/api/security/role', signal).then((e) => e.roles), 'roles', () => 60_000);
  const [editing, setEditing] = useState<Role | 'new' | null>(null);
  const action = useAction();
  const remove = useDelete<Role>(action, { noun: 'the role', path: (r) => `/api/security/role/${r.id}`, then: roles.refresh, why: 'A role that a user holds cannot be deleted: take it from them first.' });
  const edit = (r: Role | 'new') => {
    setEditing(r);
    action.say(null);
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
            <button type="button" className="btn btn-secondary" onClick={() => edit('new')}>
              Add role
            </button>
          )
        }
      >
        {action.notices}
        {editing !== null && (
          <RoleForm
            role={editing === 'new' ? null : editing}
            onCancel={() => setEditing(null)}
            onSaved={(r) => {
              action.say(`${editing === 'new' ? 'Added' : 'Saved'} the role ${r.name}.`);
              setEditing(null);
              roles.refresh();
            }}
          />
        )}
        <Loaded state={roles} what="roles">
          {(list) => (
            <ResourceTable
              label="Roles"
              rows={list}
              columns={COLUMNS}
              rowKey={(r) => r.id}
              rowData={(r) => ({ 'data-role': r.name })}
              actions={(r) =>
                r.type !== 'BUILTIN' && (
                  <EditDeleteButtons name={r.name} editDisabled={editing !== null} onEdit={can('role.edit') && (() => edit(r))} onDelete={can('role.delete') && (() => remove.ask(r))} />
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

function RoleForm({ role, onSaved, onCancel }: { role: Role | null; onSaved: (r: Role) => void; onCancel: () => void }) {
  const permissions = usePolled(
    (signal) => get<Envelope & { permissions: PermissionInfo[] }>('/api/security/permission', signal).then((e) => e.permissions),
    'permissions',
  );
  const [name, setName] = useState(role?.name ?? '');
  const [description, setDescription] = useState(role?.description ?? '');
  const [chosen, toggle] = useChecklist(role?.permissionIds ?? []);
  const form = useSubmit();

  const submit = () => {
    const body = { name: name.trim(), description, permissionIds: [...chosen] };
    return form.submit(async () => onSaved(role ? await put<Role>(`/api/security/role/${role.id}`, body) : await post<Role>('/api/security/role', body)), name.trim() ? null : 'Enter a name for the role.');
  };

  const areas = new Map<string, PermissionInfo[]>();
  for (const p of permissions.data ?? []) areas.set(areaOf(p.id), [...(areas.get(areaOf(p.id)) ?? []), p]);

  return (
    <FormCard id="role-form" title={role ? `Edit the role ${role.name}` : 'Add a role'} error={form.error} busy={form.busy} submitLabel={role ? 'Save role' : 'Add role'} onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="role-name" label="Role name" value={name} onChange={setName} required />
        <TextField id="role-description" label="Description (optional)" value={description} onChange={setDescription} />
      </div>
      <Loaded state={permissions} what="the permissions">
        {() => (
          <div className="permission-grid">
            {[...areas].map(([area, list]) => (
              <fieldset key={area} className="permission-area">
                <legend>{area}</legend>
                {list.map((p) => (
                  <Checkbox key={p.id} checked={chosen.has(p.id)} onChange={(on) => toggle(p.id, on)}>
                    <code>{p.id}</code> <span className="muted">{p.description}</span>
                  </Checkbox>
                ))}
              </fieldset>
            ))}
          </div>
        )}
      </Loaded>
    </FormCard>
  );
}
