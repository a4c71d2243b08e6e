/**
 * System Configuration › Users (GET/POST /api/security/user, PUT/DELETE …/{id}): who may log in,
 * with which role on which resource group. A new user, and one whose password an admin resets,
 * sets their own password at the next login. What the caller may not do is not offered; the
 * server refuses what would leave nobody able to manage users, and that answer is shown as is.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { del, get, messageOf, post, put } from '../api/client';
import type { Envelope, ResourcePool, Role, User } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Empty, ErrorNotice, Loaded, Notice } from '../components/Feedback';
import { PageHeader, Section } from '../components/Section';
import { StatusBadge } from '../components/Status';
import { Time } from '../components/Time';
import { useMe } from '../lib/me';
import { usePolled } from '../lib/usePolled';

interface Named {
  id: string;
  name: string | null;
}
interface PermissionSetWire {
  resourcePool: Named;
  roles: Named[];
}

/** "Monitor on All Resources; Inventory Operator on Team A". */
export function permissionText(u: User): string {
  const sets = u.permissions as unknown as PermissionSetWire[];
  if (!sets.length) return 'No roles';
  return sets.map((s) => `${s.roles.map((r) => r.name ?? r.id).join(', ')} on ${s.resourcePool.name ?? s.resourcePool.id}`).join('; ');
}

function UserStatus({ u }: { u: User }) {
  if (u.accountDisabled) return <StatusBadge status="DISABLED" tone="neutral" label="Disabled" />;
  if (u.passwordExpired) return <StatusBadge status="EXPIRED" tone="warning" label="Must set a password" />;
  return <StatusBadge status="ENABLED" tone="success" label="Enabled" />;
}

export function UsersPage() {
  useEffect(() => {
    document.title = 'Users · Census';
  }, []);
  const { can, user: me } = useMe();
  const users = usePolled((signal) => get<Envelope & { users: User[] }>('/api/security/user', signal).then((e) => e.users), 'users', () => 30_000);
  const [adding, setAdding] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [resetting, setResetting] = useState<User | null>(null);
  const [removing, setRemoving] = useState<User | null>(null);

  const change = async (u: User, what: string, body: Record<string, unknown>, said: string) => {
    setBusy(`${u.id}:${what}`);
    setError(null);
    setDone(null);
    try {
      await put(`/api/security/user/${u.id}`, body);
      setDone(said);
      users.refresh();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(null);
    }
  };

  const remove = async () => {
    if (!removing) return;
    setBusy(`${removing.id}:delete`);
    setError(null);
    try {
      await del(`/api/security/user/${removing.id}`);
      setDone(`Deleted ${removing.name}.`);
      users.refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
      setRemoving(null);
    }
  };

  const mayAdd = can('user.create') && can('role.view') && can('resourcepool.view');
  return (
    <>
      <PageHeader title="Users" kicker="System Configuration">
        Who may log in, and what each may do: a role on a resource group.
      </PageHeader>
      <Section
        title="Users"
        id="users"
        actions={
          mayAdd && !adding && (
            <button type="button" className="btn btn-secondary" onClick={() => { setAdding(true); setDone(null); }}>
              Add user
            </button>
          )
        }
      >
        {done && <Notice tone="success">{done}</Notice>}
        {error ? <ErrorNotice error={error} /> : null}
        {adding && (
          <AddUserForm
            onCancel={() => setAdding(false)}
            onAdded={(u) => {
              setAdding(false);
              setDone(`Added ${u.name}. They set their own password when they first log in.`);
              users.refresh();
            }}
          />
        )}
        {resetting && (
          <ResetPasswordForm
            user={resetting}
            busy={busy === `${resetting.id}:password`}
            onCancel={() => setResetting(null)}
            onReset={async (password) => {
              if (await change(resetting, 'password', { password }, `Set a new password for ${resetting.name}; they choose their own at the next login.`)) setResetting(null);
            }}
          />
        )}
        <Loaded state={users} what="users">
          {(list) =>
            list.length === 0 ? (
              <Empty title="There are no users." />
            ) : (
              <div className="table-wrap">
                <table className="table table-stack" aria-label="Users">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Roles</th>
                      <th scope="col">Status</th>
                      <th scope="col">Last login</th>
                      <th scope="col" className="col-actions">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((u) => (
                      <tr key={u.id} data-user={u.name}>
                        <th scope="row">
                          {u.name}
                          <span className="sub">{u.typeDisplayName}{me?.id === u.id ? ' · you' : ''}</span>
                        </th>
                        <td data-label="Roles">{permissionText(u)}</td>
                        <td data-label="Status">
                          <UserStatus u={u} />
                        </td>
                        <td data-label="Last login">{u.lastLogin ? <Time ms={u.lastLogin} /> : <span className="muted">Never</span>}</td>
                        <td className="col-actions">
                          <div className="row-actions">
                            {can('user.edit') && (
                              <>
                                <button
                                  type="button"
                                  className="btn btn-secondary btn-small"
                                  disabled={busy !== null}
                                  onClick={() => void change(u, 'disable', { accountDisabled: !u.accountDisabled }, `${u.accountDisabled ? 'Enabled' : 'Disabled'} ${u.name}.`)}
                                  aria-label={`${u.accountDisabled ? 'Enable' : 'Disable'} ${u.name}`}
                                >
                                  {u.accountDisabled ? 'Enable' : 'Disable'}
                                </button>
                                {u.type !== 'LDAP_USER' && (
                                  <button type="button" className="btn btn-secondary btn-small" disabled={busy !== null} onClick={() => { setResetting(u); setDone(null); }} aria-label={`Reset the password of ${u.name}`}>
                                    Reset password
                                  </button>
                                )}
                              </>
                            )}
                            {can('user.delete') && (
                              <button type="button" className="btn btn-danger-outline btn-small" disabled={busy !== null} onClick={() => setRemoving(u)} aria-label={`Delete ${u.name}`}>
                                Delete
                              </button>
                            )}
                          </div>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Loaded>
      </Section>
      {removing && (
        <ConfirmDialog title={`Delete ${removing.name}?`} confirmLabel="Delete" danger busy={busy !== null} onCancel={() => setRemoving(null)} onConfirm={() => void remove()}>
          <p>Their sessions end and their API keys stop working. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

/** Roles and resource groups for the pickers of a user's permission set. */
export function useRolesAndGroups() {
  return usePolled(
    async (signal) => {
      const [roles, pools] = await Promise.all([
        get<Envelope & { roles: Role[] }>('/api/security/role', signal),
        get<Envelope & { resourcePools: ResourcePool[] }>('/api/security/resourcepool', signal),
      ]);
      return { roles: roles.roles, pools: pools.resourcePools };
    },
    'roles-and-groups',
  );
}

function AddUserForm({ onAdded, onCancel }: { onAdded: (u: User) => void; onCancel: () => void }) {
  const choices = useRolesAndGroups();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [roleId, setRoleId] = useState('');
  const [poolId, setPoolId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const roles = choices.data?.roles ?? [];
  const pools = choices.data?.pools ?? [];
  // Defaults once the lists are in: the read-only role (the least a new user can hold) on All Resources.
  const role = roleId || (roles.find((r) => r.name === 'Monitor') ?? roles[0])?.id || '';
  const pool = poolId || pools[0]?.id || '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setError('Enter a user name.');
    if (password.length < 8) return setError('The temporary password needs at least 8 characters.');
    if (!role || !pool) return setError('Choose a role and a resource group.');
    setBusy(true);
    setError(null);
    try {
      onAdded(await post<User>('/api/security/user', { name: name.trim(), password, permissions: [{ resourcePoolId: pool, roleIds: [role] }] }));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="register-form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="add-user-title">
      <h3 id="add-user-title">Add a user</h3>
      {choices.error ? <ErrorNotice error={choices.error} title="Could not read the roles and resource groups." /> : null}
      {error && (
        <div className="notice notice-danger form-error" role="alert">
          <span className="notice-icon" aria-hidden="true">✕</span>
          <div>{error}</div>
        </div>
      )}
      <div className="form-grid">
        <div className="field">
          <label htmlFor="user-name">User name</label>
          <input id="user-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" spellCheck={false} required />
        </div>
        <div className="field">
          <label htmlFor="user-password">Temporary password</label>
          <input id="user-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" required aria-describedby="user-password-hint" />
          <p className="field-hint" id="user-password-hint">At least 8 characters; they set their own at the first login.</p>
        </div>
        <div className="field">
          <label htmlFor="user-role">Role</label>
          <select id="user-role" value={role} onChange={(e) => setRoleId(e.target.value)}>
            {roles.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="user-pool">Resource group</label>
          <select id="user-pool" value={pool} onChange={(e) => setPoolId(e.target.value)}>
            {pools.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy || !choices.data}>
          {busy ? 'Adding…' : 'Add user'}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ResetPasswordForm({ user, busy, onReset, onCancel }: { user: User; busy: boolean; onReset: (password: string) => Promise<void>; onCancel: () => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (password.length < 8) return setError('The temporary password needs at least 8 characters.');
    setError(null);
    void onReset(password);
  };
  return (
    <form className="register-form" onSubmit={submit} noValidate aria-labelledby="reset-title">
      <h3 id="reset-title">Reset the password of {user.name}</h3>
      {error && (
        <div className="notice notice-danger form-error" role="alert">
          <span className="notice-icon" aria-hidden="true">✕</span>
          <div>{error}</div>
        </div>
      )}
      <div className="form-grid">
        <div className="field">
          <label htmlFor="reset-password">Temporary password</label>
          <input id="reset-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" required autoFocus />
          <p className="field-hint">Their sessions end; they set their own password at the next login.</p>
        </div>
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Set password'}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
