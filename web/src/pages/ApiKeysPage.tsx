/**
 * System Configuration › API keys (/api/security/apikey, a Census addition): keys for scripts and
 * Prometheus. Everyone manages their own; with `apikey.manage` everyone's (and may make one for
 * another user). A new key is shown once, in a dialog, and never again: Census keeps its hash.
 */
import { useState } from 'react';
import { del, get, post } from '../api/client';
import type { ApiKey, ApiKeyCreated, Envelope, User } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Loaded } from '../components/Feedback';
import { Checkbox, FormCard, SelectField, TextField, useSubmit } from '../components/Form';
import { ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { ShownOnce } from '../components/ShownOnce';
import { StatusBadge, type Tone } from '../components/Status';
import { Time } from '../components/Time';
import { useMe } from '../lib/me';
import { useAction } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const STATUS_TONE: Record<string, Tone> = { ACTIVE: 'success', EXPIRED: 'warning', REVOKED: 'neutral' };

export function ApiKeysPage() {
  useTitle('API keys');
  const { can, user: me } = useMe();
  const manages = can('apikey.manage');
  const keys = usePolled((signal) => get<Envelope & { apiKeys: ApiKey[] }>('/api/security/apikey', signal).then((e) => e.apiKeys), 'api-keys', () => 30_000);
  const [adding, setAdding] = useState(false);
  const [made, setMade] = useState<ApiKeyCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const action = useAction();

  const columns: Column<ApiKey>[] = [
    { header: 'Name', cell: (k) => <>{k.name}<span className="sub"><code>{k.prefix}…</code></span></> },
    ...(manages ? [{ header: 'Owner', cell: (k: ApiKey) => <>{k.userName}{me?.id === k.userId ? <span className="sub">you</span> : null}</> }] : []),
    { header: 'Created', cell: (k) => <Time ms={k.createdAt} /> },
    { header: 'Expires', cell: (k) => (k.expiresAt === null ? <span className="muted">Never</span> : <Time ms={k.expiresAt} />) },
    { header: 'Last used', cell: (k) => (k.lastUsedAt === null ? <span className="muted">Never</span> : <><Time ms={k.lastUsedAt} />{k.lastUsedFrom && <span className="sub">from {k.lastUsedFrom}</span>}</>) },
    { header: 'Read-only', cell: (k) => (k.readOnly ? 'Yes' : 'No') },
    { header: 'Allowed addresses', cell: (k) => (k.allowedAddresses.length ? k.allowedAddresses.join(', ') : <span className="muted">Any</span>) },
    { header: 'Status', cell: (k) => <StatusBadge status={k.status} tone={STATUS_TONE[k.status]} /> },
  ];

  return (
    <>
      <PageHeader title="API keys" kicker="System Configuration">
        Keys for scripts and Prometheus: sent as <code>Authorization: Bearer …</code> or <code>X-Endeavour-Sessionid</code>, a key acts with its owner&apos;s permissions.
        {manages ? ' You see everyone’s keys.' : ' You see your own keys.'}
      </PageHeader>
      <Section
        title="API keys"
        id="api-keys"
        actions={
          !adding && (
            <button type="button" className="btn btn-secondary" onClick={() => { setAdding(true); action.say(null); }}>
              Create API key
            </button>
          )
        }
      >
        {action.notices}
        {adding && (
          <ApiKeyForm
            manages={manages && can('user.view')}
            onCancel={() => setAdding(false)}
            onMade={(k) => {
              setAdding(false);
              setMade(k);
              action.say(`Created the API key ${k.name}.`);
              keys.refresh();
            }}
          />
        )}
        <Loaded state={keys} what="API keys">
          {(list) => (
            <ResourceTable
              label="API keys"
              rows={list}
              columns={columns}
              rowKey={(k) => k.id}
              rowData={(k) => ({ 'data-key': k.name })}
              empty="There are no API keys."
              actions={(k) =>
                k.links.delete && (
                  <button type="button" className="btn btn-danger-outline btn-small" disabled={action.busy !== null} onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name}`}>
                    Revoke
                  </button>
                )
              }
            />
          )}
        </Loaded>
      </Section>
      {made && <KeyShownOnce made={made} onClose={() => setMade(null)} />}
      {revoking && (
        <ConfirmDialog
          title={`Revoke the API key ${revoking.name}?`}
          confirmLabel="Revoke"
          danger
          busy={action.busy !== null}
          onCancel={() => setRevoking(null)}
          onConfirm={() => void action.run('revoke', () => del(`/api/security/apikey/${revoking.id}`), `Revoked the API key ${revoking.name}.`, keys.refresh).then(() => setRevoking(null))}
        >
          <p>It stops working at once; scripts that use it are refused. It stays listed with its last use.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

/** The end of the chosen day in the browser's zone, as epoch ms; undefined for "the default". */
function endOfDay(date: string): number | undefined {
  if (!date) return undefined;
  const t = new Date(`${date}T23:59:59`).getTime();
  return Number.isFinite(t) ? t : undefined;
}

function ApiKeyForm({ manages, onMade, onCancel }: { manages: boolean; onMade: (k: ApiKeyCreated) => void; onCancel: () => void }) {
  const users = usePolled(
    (signal) => (manages ? get<Envelope & { users: User[] }>('/api/security/user', signal).then((e) => e.users) : Promise.resolve([])),
    `apikey-owners:${manages}`,
  );
  const [name, setName] = useState('');
  const [owner, setOwner] = useState('');
  const [expires, setExpires] = useState('');
  const [readOnly, setReadOnly] = useState(false);
  const [addresses, setAddresses] = useState('');
  const form = useSubmit();

  const submit = () => {
    const expiresAt = endOfDay(expires);
    const allowed = addresses.split(/[\s,]+/).filter(Boolean);
    const body = { name: name.trim(), readOnly, ...(owner ? { userId: Number(owner) } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}), ...(allowed.length ? { allowedAddresses: allowed } : {}) };
    const problem = !name.trim() ? 'Enter a name: what the key is for.' : expires && expiresAt === undefined ? 'The expiry is not a date.' : null;
    return form.submit(async () => onMade(await post<ApiKeyCreated>('/api/security/apikey', body)), problem);
  };

  return (
    <FormCard id="apikey-form" title="Create an API key" error={form.error} busy={form.busy} busyLabel="Creating…" submitLabel="Create key" onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="apikey-name" label="Key name" value={name} onChange={setName} required hint="What it is for, e.g. “Prometheus”." />
        {manages && (
          <SelectField id="apikey-owner" label="Owner" value={owner} onChange={setOwner} options={[{ value: '', label: 'Me' }, ...(users.data ?? []).map((u) => ({ value: u.id, label: u.name }))]} />
        )}
        <TextField id="apikey-expires" label="Expires (optional)" type="date" value={expires} onChange={setExpires} hint="It stops working at the end of this day; without a date, in 90 days." />
        <TextField
          id="apikey-addresses"
          label="Allowed addresses (optional)"
          value={addresses}
          onChange={setAddresses}
          wide
          placeholder="10.1.2.3, 192.168.0.0/16"
          hint="Addresses and CIDR ranges it may be used from, separated by commas or spaces; empty: any."
        />
      </div>
      <Checkbox checked={readOnly} onChange={setReadOnly}>
        Read-only: only the <code>*.view</code> permissions of its owner
      </Checkbox>
    </FormCard>
  );
}

/** The new key, this once, with a copy button. */
function KeyShownOnce({ made, onClose }: { made: ApiKeyCreated; onClose: () => void }) {
  return (
    <ShownOnce
      title={`Your new API key: ${made.name}`}
      id="new-api-key"
      label="API key"
      value={made.key}
      warning="Copy the key now: you will not see it again. Census keeps only its hash."
      hint={`Send it as Authorization: Bearer ${made.prefix}…`}
      onClose={onClose}
    />
  );
}
