/**
 * System Configuration › Users (GET/POST /api/security/user, PUT/DELETE …/{id}): who may log in,
 * with which roles on which resource groups. A new user, and one whose password an admin resets,
 * sets their own password at the next login. What the caller may not do is not offered; the
 * server refuses what would leave nobody able to manage users, and that answer is shown as is.
 */
import { useState } from 'react';
import { get, post, put } from '../api/client';
import type { Envelope, User } from '../api/types';
import { Loaded } from '../components/Feedback';
import { FormCard, TextField, useSubmit } from '../components/Form';
import { pickedPair, PermissionPicker } from '../components/PermissionPicker';
import { ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { StatusBadge } from '../components/Status';
import { Time } from '../components/Time';
import { useMe } from '../lib/me';
import { pairsOf, pairText, permissionsBody, permissionText, useRolesAndGroups, type PermissionPair } from '../lib/security';
import { useAction, useDelete } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

function UserStatus({ u }: { u: User }) {
  if (u.accountDisabled) return <StatusBadge status="DISABLED" tone="neutral" label="Disabled" />;
  if (u.passwordExpired) return <StatusBadge status="EXPIRED" tone="warning" label="Must set a password" />;
  return <StatusBadge status="ENABLED" tone="success" label="Enabled" />;
}

/** The one form open at a time. */
type Open = { kind: 'add' } | { kind: 'password' | 'roles'; user: User } | null;

export function UsersPage() {
  useTitle('Users');
  const { can, user: me } = useMe();
  const users = usePolled((signal) => get<Envelope & { users: User[] }>('/api/security/user', signal).then((e) => e.users), 'users', () => 30_000);
  const action = useAction();
  const remove = useDelete<User>(action, { noun: '', path: (u) => `/api/security/user/${u.id}`, then: users.refresh, why: 'Their sessions end and their API keys stop working. This cannot be undone.' });
  const [open, setOpen] = useState<Open>(null);
  const show = (o: Open) => {
    setOpen(o);
    action.say(null);
  };
  const saved = (said: string) => {
    setOpen(null);
    action.say(said);
    users.refresh();
  };

  const mayPick = can('role.view') && can('resourcepool.view');
  const columns: Column<User>[] = [
    { header: 'Name', cell: (u) => <>{u.name}<span className="sub">{u.typeDisplayName}{me?.id === u.id ? ' · you' : ''}</span></> },
    { header: 'Roles', cell: permissionText },
    { header: 'Status', cell: (u) => <UserStatus u={u} /> },
    { header: 'Last login', cell: (u) => (u.lastLogin ? <Time ms={u.lastLogin} /> : <span className="muted">Never</span>) },
  ];
  const busy = action.busy !== null;
  const rowActions = (u: User) => (
    <>
      {can('user.edit') && (
        <>
          <button
            type="button"
            className="btn btn-secondary btn-small"
            disabled={busy}
            onClick={() => void action.run(`${u.id}:disable`, () => put(`/api/security/user/${u.id}`, { accountDisabled: !u.accountDisabled }), `${u.accountDisabled ? 'Enabled' : 'Disabled'} ${u.name}.`, users.refresh)}
            aria-label={`${u.accountDisabled ? 'Enable' : 'Disable'} ${u.name}`}
          >
            {u.accountDisabled ? 'Enable' : 'Disable'}
          </button>
          {mayPick && u.type !== 'LDAP_USER' && (
            <button type="button" className="btn btn-secondary btn-small" disabled={busy} onClick={() => show({ kind: 'roles', user: u })} aria-label={`Edit the permission sets of ${u.name}`}>
              Edit roles
            </button>
          )}
          {u.type !== 'LDAP_USER' && (
            <button type="button" className="btn btn-secondary btn-small" disabled={busy} onClick={() => show({ kind: 'password', user: u })} aria-label={`Reset the password of ${u.name}`}>
              Reset password
            </button>
          )}
        </>
      )}
      {can('user.delete') && (
        <button type="button" className="btn btn-danger-outline btn-small" disabled={busy} onClick={() => remove.ask(u)} aria-label={`Delete ${u.name}`}>
          Delete
        </button>
      )}
    </>
  );

  return (
    <>
      <PageHeader title="Users" kicker="System Configuration">
        Who may log in, and what each may do: a role on a resource group.
      </PageHeader>
      <Section
        title="Users"
        id="users"
        actions={
          can('user.create') && mayPick && open?.kind !== 'add' && (
            <button type="button" className="btn btn-secondary" onClick={() => show({ kind: 'add' })}>
              Add user
            </button>
          )
        }
      >
        {action.notices}
        {open?.kind === 'add' && <AddUserForm onCancel={() => setOpen(null)} onAdded={(u) => saved(`Added ${u.name}. They set their own password when they first log in.`)} />}
        {open?.kind === 'password' && (
          <ResetPasswordForm key={open.user.id} user={open.user} onCancel={() => setOpen(null)} onReset={() => saved(`Set a new password for ${open.user.name}; they choose their own at the next login.`)} />
        )}
        {open?.kind === 'roles' && <PermissionsForm key={open.user.id} user={open.user} onCancel={() => setOpen(null)} onSaved={(u) => saved(`Saved the roles of ${u.name}: ${permissionText(u)}.`)} />}
        <Loaded state={users} what="users">
          {(list) => <ResourceTable label="Users" rows={list} columns={columns} rowKey={(u) => u.id} rowData={(u) => ({ 'data-user': u.name })} actions={rowActions} empty="There are no users." />}
        </Loaded>
      </Section>
      {remove.dialog}
    </>
  );
}

function AddUserForm({ onAdded, onCancel }: { onAdded: (u: User) => void; onCancel: () => void }) {
  const choices = useRolesAndGroups();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [pair, setPair] = useState<PermissionPair>({ roleId: '', poolId: '' });
  const form = useSubmit();
  const picked = pickedPair(pair, choices.data);

  const problem = !name.trim()
    ? 'Enter a user name.'
    : password.length < 8
      ? 'The temporary password needs at least 8 characters.'
      : !picked.roleId || !picked.poolId
        ? 'Choose a role and a resource group.'
        : null;
  const submit = () => form.submit(async () => onAdded(await post<User>('/api/security/user', { name: name.trim(), password, permissions: permissionsBody([picked]) })), problem);

  return (
    <FormCard id="add-user" title="Add a user" error={form.error ?? (choices.error ? 'Could not read the roles and resource groups.' : null)} busy={form.busy} busyLabel="Adding…" submitLabel="Add user" notReady={!choices.data} onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="user-name" label="User name" value={name} onChange={setName} required />
        <TextField id="user-password" label="Temporary password" type="password" value={password} onChange={setPassword} autoComplete="new-password" required hint="At least 8 characters; they set their own at the first login." />
        <PermissionPicker id="user" choices={choices.data} value={pair} onChange={setPair} />
      </div>
    </FormCard>
  );
}

function ResetPasswordForm({ user, onReset, onCancel }: { user: User; onReset: () => void; onCancel: () => void }) {
  const [password, setPassword] = useState('');
  const form = useSubmit();
  const submit = () =>
    form.submit(async () => {
      await put(`/api/security/user/${user.id}`, { password });
      onReset();
    }, password.length < 8 ? 'The temporary password needs at least 8 characters.' : null);
  return (
    <FormCard id="reset" title={`Reset the password of ${user.name}`} error={form.error} busy={form.busy} submitLabel="Set password" onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="reset-password" label="Temporary password" type="password" value={password} onChange={setPassword} autoComplete="new-password" required autoFocus hint="Their sessions end; they set their own password at the next login." />
      </div>
    </FormCard>
  );
}

/**
 * A user's permission sets: remove pairs, add pairs, then save them all in one PUT (the server
 * refuses, in its own words, a change that leaves nobody able to manage users).
 */
function PermissionsForm({ user, onSaved, onCancel }: { user: User; onSaved: (u: User) => void; onCancel: () => void }) {
  const choices = useRolesAndGroups();
  const [pairs, setPairs] = useState<PermissionPair[]>(() => pairsOf(user));
  const [adding, setAdding] = useState<PermissionPair>({ roleId: '', poolId: '' });
  const form = useSubmit();
  const same = (a: PermissionPair, b: PermissionPair) => a.roleId === b.roleId && a.poolId === b.poolId;

  const add = () => {
    const p = pickedPair(adding, choices.data);
    if (!p.roleId || !p.poolId) return form.setError('Choose a role and a resource group.');
    form.setError(null);
    setPairs((list) => (list.some((q) => same(q, p)) ? list : [...list, p]));
  };
  const submit = () => form.submit(async () => onSaved(await put<User>(`/api/security/user/${user.id}`, { permissions: permissionsBody(pairs) })));

  return (
    <FormCard id="user-roles" title={`Roles of ${user.name}`} error={form.error} busy={form.busy} submitLabel="Save roles" notReady={!choices.data} onSubmit={() => void submit()} onCancel={onCancel}>
      {pairs.length === 0 ? (
        <p className="muted">No roles: {user.name} can log in but do nothing.</p>
      ) : (
        <ul className="pair-list" aria-label={`Permission sets of ${user.name}`}>
          {pairs.map((p) => {
            const text = pairText(p, choices.data);
            return (
              <li key={`${p.roleId}/${p.poolId}`} data-pair={text}>
                {text}
                <button type="button" className="btn btn-link" onClick={() => setPairs((list) => list.filter((q) => !same(q, p)))} aria-label={`Remove ${text}`}>
                  Remove
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <div className="form-grid pair-add" role="group" aria-label="Add a permission set">
        <PermissionPicker id="pair" choices={choices.data} value={adding} onChange={setAdding} />
        <div className="field field-button">
          <button type="button" className="btn btn-secondary" onClick={add} disabled={!choices.data}>
            Add to the list
          </button>
        </div>
      </div>
    </FormCard>
  );
}
