/**
 * System Configuration › LDAP servers (/api/ldap, Census's shape): the directories users log in
 * through, the connection test (POST /api/ldap/{id}?action=test), and the group mappings that
 * give a directory group's members a role on a resource group. The service account's password
 * is write-only: it is sent, never shown back.
 */
import { useState } from 'react';
import { del, get, post, put } from '../api/client';
import type { Envelope, LdapMapping, LdapServer, LdapTestResult } from '../api/types';
import { Loaded } from '../components/Feedback';
import { Checkbox, FormCard, TextArea, TextField, useSubmit } from '../components/Form';
import { pickedPair, PermissionPicker } from '../components/PermissionPicker';
import { EditDeleteButtons, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { TestResult } from '../components/TestResult';
import { useMe } from '../lib/me';
import { useRolesAndGroups, type PermissionPair } from '../lib/security';
import { useAction, useDelete } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const COLUMNS: Column<LdapServer>[] = [
  { header: 'Name', cell: (d) => <>{d.name}<span className="sub">{d.url}</span></> },
  { header: 'Security', cell: (d) => `${d.url.startsWith('ldaps:') ? 'LDAPS' : d.startTls ? 'StartTLS' : 'None'}${d.tlsVerify ? ', certificate checked' : ', certificate not checked'}${d.caCert ? ', own CA' : ''}` },
  { header: 'Service account', cell: (d) => <code>{d.bindDn}</code> },
  { header: 'Users', cell: (d) => <><code>{d.userBase}</code><span className="sub">{d.userFilter}</span></> },
  { header: 'Groups', cell: (d) => (d.groupBase ? <><code>{d.groupBase}</code><span className="sub">{d.groupFilter ?? ''}</span></> : <span className="muted">memberOf only</span>) },
];

interface Test {
  server: LdapServer;
  busy: boolean;
  result?: LdapTestResult;
  error?: unknown;
}

export function LdapPage() {
  useTitle('LDAP servers');
  const { can } = useMe();
  const mayEdit = can('ldap.edit');
  const servers = usePolled((signal) => get<Envelope & { ldapServers: LdapServer[] }>('/api/ldap', signal).then((e) => e.ldapServers), 'ldap', () => 60_000);
  const [editing, setEditing] = useState<LdapServer | 'new' | null>(null);
  const [mapping, setMapping] = useState<LdapServer | null>(null);
  const [test, setTest] = useState<Test | null>(null);
  const action = useAction();
  const remove = useDelete<LdapServer>(action, {
    noun: 'the LDAP server',
    path: (d) => `/api/ldap/${d.id}`,
    then: (d) => {
      setMapping((m) => (m?.id === d.id ? null : m));
      servers.refresh();
    },
    why: 'Its group mappings go, and so do the users it made (their sessions end).',
  });
  const edit = (d: LdapServer | 'new') => {
    setEditing(d);
    action.say(null);
  };

  const runTest = async (d: LdapServer) => {
    setTest({ server: d, busy: true });
    try {
      setTest({ server: d, busy: false, result: await post<LdapTestResult>(`/api/ldap/${d.id}?action=test`) });
    } catch (error) {
      setTest({ server: d, busy: false, error });
    }
  };

  return (
    <>
      <PageHeader title="LDAP servers" kicker="System Configuration">
        Directory servers users log in through with their directory password. A directory group mapped to a role on a resource group gives its members that permission set at each login.
      </PageHeader>
      <Section
        title="Directory servers"
        id="ldap"
        actions={
          mayEdit && editing === null && (
            <button type="button" className="btn btn-secondary" onClick={() => edit('new')}>
              Register LDAP server
            </button>
          )
        }
      >
        {action.notices}
        {editing !== null && (
          <LdapForm
            server={editing === 'new' ? null : editing}
            onCancel={() => setEditing(null)}
            onSaved={(d) => {
              action.say(`${editing === 'new' ? 'Registered' : 'Saved'} the LDAP server ${d.name}. Test it to see that Census can reach it.`);
              setEditing(null);
              servers.refresh();
            }}
          />
        )}
        {test && !test.busy && (
          <TestResult title={`Connection test of ${test.server.name}${test.result ? (test.result.ok ? ': passed' : ': failed') : ''}`} error={test.error} checks={test.result?.checks ?? []} onHide={() => setTest(null)} />
        )}
        <Loaded state={servers} what="LDAP servers">
          {(list) => (
            <ResourceTable
              label="LDAP servers"
              rows={list}
              columns={COLUMNS}
              rowKey={(d) => d.id}
              rowData={(d) => ({ 'data-ldap': d.name })}
              empty="No LDAP server is registered: only Census's own users can log in."
              actions={(d) => (
                <>
                  {mayEdit && (
                    <button type="button" className="btn btn-secondary btn-small" disabled={test?.busy} onClick={() => void runTest(d)} aria-label={`Test ${d.name}`}>
                      {test?.busy && test.server.id === d.id ? 'Testing…' : 'Test'}
                    </button>
                  )}
                  <button type="button" className="btn btn-secondary btn-small" onClick={() => setMapping(d)} aria-label={`Group mappings of ${d.name}`}>
                    Group mappings
                  </button>
                  {mayEdit && <EditDeleteButtons name={d.name} editDisabled={editing !== null} onEdit={() => edit(d)} onDelete={() => remove.ask(d)} />}
                </>
              )}
            />
          )}
        </Loaded>
      </Section>
      {mapping && <MappingsSection key={mapping.id} server={mapping} mayEdit={mayEdit} onClose={() => setMapping(null)} />}
      {remove.dialog}
    </>
  );
}

/** The form's fields: text as typed, the two switches, and the password (never pre-filled). */
interface Settings {
  name: string;
  url: string;
  startTls: boolean;
  tlsVerify: boolean;
  caCert: string;
  bindDn: string;
  bindPassword: string;
  userBase: string;
  userFilter: string;
  usernameAttribute: string;
  groupBase: string;
  groupFilter: string;
  timeoutMs: string;
}

const settingsOf = (d: LdapServer | null): Settings => ({
  name: d?.name ?? '',
  url: d?.url ?? 'ldaps://',
  startTls: d?.startTls ?? false,
  tlsVerify: d?.tlsVerify ?? true,
  caCert: d?.caCert ?? '',
  bindDn: d?.bindDn ?? '',
  bindPassword: '',
  userBase: d?.userBase ?? '',
  userFilter: d?.userFilter ?? '(uid={username})',
  usernameAttribute: d?.usernameAttribute ?? 'uid',
  groupBase: d?.groupBase ?? '',
  groupFilter: d?.groupFilter ?? '',
  timeoutMs: String(d?.timeoutMs ?? 10_000),
});

/** The body: everything for a new server; for a change, only what changed (and the password if typed). */
function bodyOf(s: Settings, before: Settings | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s) as [keyof Settings, string | boolean][]) {
    if (k === 'bindPassword') continue;
    if (before && before[k] === v) continue;
    out[k] = k === 'timeoutMs' ? Number(v) : typeof v === 'string' ? v.trim() : v;
  }
  if (s.bindPassword) out.bindPassword = s.bindPassword;
  return out;
}

function LdapForm({ server, onSaved, onCancel }: { server: LdapServer | null; onSaved: (d: LdapServer) => void; onCancel: () => void }) {
  const [before] = useState(() => (server ? settingsOf(server) : null));
  const [s, setS] = useState<Settings>(() => settingsOf(server));
  const form = useSubmit();
  const text = (k: keyof Settings) => ({ value: s[k] as string, onChange: (v: string) => setS((o) => ({ ...o, [k]: v })) });
  const plain = s.url.trim().toLowerCase().startsWith('ldap://');

  const problem = !s.name.trim()
    ? 'Enter a name for the LDAP server.'
    : !/^ldaps?:\/\/[^/\s]+/i.test(s.url.trim())
      ? 'The URL is ldaps://host[:port], or ldap://host[:port] with StartTLS.'
      : !s.bindDn.trim() || !s.userBase.trim() || !s.userFilter.trim()
        ? 'Enter the service account (bind DN), the user base and the user filter.'
        : !server && !s.bindPassword
          ? "Enter the service account's password."
          : null;
  const submit = () =>
    form.submit(async () => {
      const body = bodyOf({ ...s, startTls: plain ? true : s.startTls }, before);
      onSaved(server ? await put<LdapServer>(`/api/ldap/${server.id}`, body) : await post<LdapServer>('/api/ldap', body));
    }, problem);

  return (
    <FormCard id="ldap-form" title={server ? `Edit the LDAP server ${server.name}` : 'Register an LDAP server'} error={form.error} busy={form.busy} submitLabel={server ? 'Save LDAP server' : 'Register'} onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="ldap-name" label="Name" {...text('name')} required />
        <TextField id="ldap-url" label="URL" {...text('url')} required hint="ldaps://host[:port], or ldap://host[:port] (always with StartTLS)." />
        <TextField id="ldap-timeout" label="Timeout (ms)" type="number" min={100} max={120000} {...text('timeoutMs')} />
        <TextField id="ldap-bind-dn" label="Bind DN" {...text('bindDn')} required placeholder="cn=census,ou=services,dc=example,dc=com" />
        <TextField
          id="ldap-bind-password"
          label="Bind password"
          type="password"
          autoComplete="new-password"
          {...text('bindPassword')}
          hint={server ? 'Never shown. Leave empty to keep it; needed again when the URL, StartTLS, verification or CA changes.' : 'Never shown again: Census keeps it sealed.'}
        />
        <TextField id="ldap-username-attribute" label="User name attribute" {...text('usernameAttribute')} />
        <TextField id="ldap-user-base" label="User base" {...text('userBase')} required placeholder="ou=people,dc=example,dc=com" />
        <TextField id="ldap-user-filter" label="User filter" {...text('userFilter')} required hint="With {username}." />
        <TextField id="ldap-group-base" label="Group base (optional)" {...text('groupBase')} hint="Empty: groups come from memberOf." />
        <TextField id="ldap-group-filter" label="Group filter (optional)" {...text('groupFilter')} hint="With {dn} or {username}, e.g. (member={dn})." />
        <TextArea id="ldap-ca" label="CA certificate (optional, PEM)" {...text('caCert')} hint="Trusted for this server instead of the system's CAs." />
      </div>
      <Checkbox checked={plain || s.startTls} onChange={(on) => setS((o) => ({ ...o, startTls: on }))}>
        StartTLS{plain ? ' (required for ldap://: passwords never cross in clear)' : ''}
      </Checkbox>{' '}
      <Checkbox checked={s.tlsVerify} onChange={(on) => setS((o) => ({ ...o, tlsVerify: on }))}>
        Check the server&apos;s certificate and name
      </Checkbox>
    </FormCard>
  );
}

const MAPPING_COLUMNS: Column<LdapMapping>[] = [
  { header: 'Group DN', cell: (m) => <code>{m.groupDn}</code> },
  { header: 'Role', cell: (m) => m.role.name ?? <span className="muted">role {m.role.id} (deleted)</span> },
  { header: 'Resource group', cell: (m) => m.resourcePool.name ?? <span className="muted">group {m.resourcePool.id} (deleted)</span> },
];

/** A directory's group mappings: list, add (group DN → role on resource group), remove. */
function MappingsSection({ server, mayEdit, onClose }: { server: LdapServer; mayEdit: boolean; onClose: () => void }) {
  const { can } = useMe();
  const mappings = usePolled((signal) => get<Envelope & { mappings: LdapMapping[] }>(`/api/ldap/${server.id}/mapping`, signal).then((e) => e.mappings), `ldap-mappings:${server.id}`);
  const action = useAction();
  const [adding, setAdding] = useState(false);
  const mayAdd = mayEdit && can('role.view') && can('resourcepool.view');
  return (
    <Section
      title={`Group mappings of ${server.name}`}
      id="ldap-mappings"
      description="Members of a group hold its role on its resource group, from their next login on."
      actions={
        <>
          {mayAdd && !adding && (
            <button type="button" className="btn btn-secondary" onClick={() => { setAdding(true); action.say(null); }}>
              Add mapping
            </button>
          )}
          <button type="button" className="btn btn-ghost" onClick={onClose}>
            Close
          </button>
        </>
      }
    >
      {action.notices}
      {adding && (
        <MappingForm
          server={server}
          onCancel={() => setAdding(false)}
          onAdded={(m) => {
            setAdding(false);
            action.say(`Mapped ${m.groupDn} to ${m.role.name ?? m.role.id} on ${m.resourcePool.name ?? m.resourcePool.id}.`);
            mappings.refresh();
          }}
        />
      )}
      <Loaded state={mappings} what="group mappings">
        {(list) => (
          <ResourceTable
            label={`Group mappings of ${server.name}`}
            rows={list}
            columns={MAPPING_COLUMNS}
            rowKey={(m) => m.id}
            rowData={(m) => ({ 'data-mapping': m.groupDn })}
            empty="No group is mapped: directory users can log in but hold no roles."
            actions={(m) =>
              mayEdit && (
                <button
                  type="button"
                  className="btn btn-danger-outline btn-small"
                  disabled={action.busy !== null}
                  onClick={() => void action.run(m.id, () => del(`/api/ldap/${server.id}/mapping/${m.id}`), `Removed the mapping of ${m.groupDn}.`, mappings.refresh)}
                  aria-label={`Remove the mapping of ${m.groupDn}`}
                >
                  Remove
                </button>
              )
            }
          />
        )}
      </Loaded>
    </Section>
  );
}

function MappingForm({ server, onAdded, onCancel }: { server: LdapServer; onAdded: (m: LdapMapping) => void; onCancel: () => void }) {
  const choices = useRolesAndGroups();
  const [groupDn, setGroupDn] = useState('');
  const [pair, setPair] = useState<PermissionPair>({ roleId: '', poolId: '' });
  const form = useSubmit();
  const submit = () => {
    const p = pickedPair(pair, choices.data);
    return form.submit(
      async () => onAdded(await post<LdapMapping>(`/api/ldap/${server.id}/mapping`, { groupDn: groupDn.trim(), roleId: p.roleId, resourcePoolId: p.poolId })),
      !groupDn.trim() ? "Enter the group's DN." : !p.roleId || !p.poolId ? 'Choose a role and a resource group.' : null,
    );
  };
  return (
    <FormCard id="mapping-form" title="Map a directory group" error={form.error} busy={form.busy} busyLabel="Adding…" submitLabel="Add mapping" notReady={!choices.data} onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="mapping-group" label="Group DN" value={groupDn} onChange={setGroupDn} required placeholder="cn=operators,ou=groups,dc=example,dc=com" />
        <PermissionPicker id="mapping" choices={choices.data} value={pair} onChange={setPair} />
      </div>
    </FormCard>
  );
}
