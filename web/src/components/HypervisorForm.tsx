/**
 * Registers a hypervisor (POST /api/hypervisor) or changes one (PUT /api/hypervisor/{id}, only
 * the fields that changed): host, port, its site, the login — a stored identity or a new
 * password or SSH key, which Census stores as an identity — and what its collector takes besides.
 * The fields follow the collector's info (GET /api/census/collector), not the type's name: the
 * connection URI only where it has a default URI (libvirt), the TLS mode only where TLS applies
 * (vSphere), SSH keys only where it accepts them. Secrets are sent, never shown back; on Edit the
 * login stays unless another is chosen.
 */
import { useState } from 'react';
import { get, post, put } from '../api/client';
import type { Envelope, Hypervisor, Identity, Site } from '../api/types';
import type { AppType } from '../lib/appTypes';
import { useMe } from '../lib/me';
import { usePolled } from '../lib/usePolled';
import { Checkbox, FormCard, SelectField, TextArea, TextField, useSubmit, type Option } from './Form';

type Tls = 'disable' | 'require' | 'verify';

const TLS_OPTIONS: { value: Tls; label: string }[] = [
  { value: 'verify', label: 'verify (check the certificate)' },
  { value: 'require', label: 'require (any certificate)' },
  { value: 'disable', label: 'disable (no TLS)' },
];

type Login = 'keep' | 'identity' | 'password' | 'key';

interface Fields {
  name: string;
  host: string;
  port: string;
  uri: string;
  tls: Tls;
  siteId: string;
  login: Login;
  identity: string;
  username: string;
  password: string;
  privatekey: string;
  passphrase: string;
  inventory: boolean;
}

const fieldsOf = (app: AppType, h: Hypervisor | null): Fields => ({
  name: h?.name ?? '',
  host: h?.hostAddress ?? '',
  port: String(h?.portNumber ?? app.defaultPort ?? ''),
  uri: h?.uri ?? app.defaultUri ?? '',
  tls: (h?.tls as Tls | undefined) ?? app.defaultTls ?? 'disable',
  siteId: h?.siteId ?? '',
  login: h ? 'keep' : app.defaultAuth,
  identity: '',
  username: '',
  password: '',
  privatekey: '',
  passphrase: '',
  inventory: true,
});

/** The words of the login fields: SSH ones only for a collector that logs in over SSH (it takes keys). */
const wordsOf = (app: AppType) => ({
  port: app.ssh ? 'SSH port' : 'Port',
  user: app.ssh ? 'SSH user' : 'User name',
  password: app.ssh ? 'SSH password' : 'Password',
});

/** What the form checks before it posts anything; null when all is well. */
function problemOf(app: AppType, f: Fields): string | null {
  const words = wordsOf(app);
  const host = f.host.trim();
  if (!host) return 'Enter the host name or IP address.';
  if (!/^[A-Za-z0-9._:[\]-]+$/.test(host)) return 'A host name or IP address has no spaces or other special characters.';
  const p = Number(f.port);
  if (!/^\d+$/.test(f.port.trim()) || !Number.isInteger(p) || p < 1 || p > 65535) return `The ${words.port.toLowerCase()} is a whole number from 1 to 65535.`;
  if (app.defaultUri !== null && !f.uri.trim()) return `Enter the connection URI (${app.defaultUri} by default).`;
  if (f.login === 'identity' && !f.identity) return 'Choose the stored login to use.';
  if ((f.login === 'password' || f.login === 'key') && !f.username.trim()) return `Enter the ${words.user.toLowerCase()} Census logs in as.`;
  if (f.login === 'password' && !f.password) return `Enter the ${words.password.toLowerCase()}.`;
  if (f.login === 'key' && !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(f.privatekey)) return 'Paste the SSH private key (it starts with "-----BEGIN … PRIVATE KEY-----").';
  return null;
}

/** The login part of the body, in SPP's hypervisor fields (`user` href) or inline credentials. */
function loginBody(f: Fields): Record<string, unknown> {
  switch (f.login) {
    case 'keep':
      return {};
    case 'identity':
      return { user: { href: f.identity } };
    case 'password':
      return { username: f.username.trim(), password: f.password, useKeyAuthentication: false };
    case 'key':
      return { username: f.username.trim(), privatekey: f.privatekey, ...(f.passphrase ? { passphrase: f.passphrase } : {}), useKeyAuthentication: true };
  }
}

/** A registration: everything; a change: only what differs from `before` (and a new login if chosen). */
function bodyOf(app: AppType, f: Fields, before: Fields | null): Record<string, unknown> {
  const host = f.host.trim();
  const uri = f.uri.trim();
  // A collector without a default URI takes none (the server refuses one); TLS only where it applies.
  const takesUri = app.defaultUri !== null;
  if (!before) {
    return {
      name: f.name.trim() || host,
      hostAddress: host,
      type: app.type,
      portNumber: Number(f.port),
      ...(takesUri && uri !== app.defaultUri ? { uri } : {}),
      ...(app.tls ? { tls: f.tls } : {}),
      ...(f.siteId ? { siteId: f.siteId } : {}),
      addToCatJob: f.inventory,
      ...loginBody(f),
    };
  }
  const out: Record<string, unknown> = {};
  if (f.name.trim() !== before.name) out.name = f.name.trim() || host;
  if (host !== before.host) out.hostAddress = host;
  if (f.port.trim() !== before.port) out.portNumber = Number(f.port);
  if (takesUri && uri !== before.uri) out.uri = uri;
  if (app.tls && f.tls !== before.tls) out.tls = f.tls;
  if (f.siteId !== before.siteId) out.siteId = f.siteId;
  return { ...out, ...loginBody(f) };
}

/** Stored logins (of the kinds the collector takes) and sites for the pickers, read when the form opens (each only with the permission to see it). */
function useChoices(app: AppType) {
  const { can } = useMe();
  const identities = can('identity.view');
  const takesKeys = app.identityKinds.includes('key');
  const takesPasswords = app.identityKinds.includes('password');
  const sites = can('site.view');
  return usePolled(
    async (signal) => {
      const [users, keys, siteList] = await Promise.all([
        identities && takesPasswords ? get<Envelope & { users: Identity[] }>('/api/identity/user?pageSize=1000', signal).then((e) => e.users) : [],
        identities && takesKeys ? get<Envelope & { keys: Identity[] }>('/api/identity/key?pageSize=1000', signal).then((e) => e.keys) : [],
        sites ? get<Envelope & { sites: Site[] }>('/api/site?pageSize=1000', signal).then((e) => e.sites) : null,
      ]);
      return { users, keys, sites: siteList };
    },
    `hypervisor-form-choices:${identities}:${takesPasswords}:${takesKeys}:${sites}`,
  );
}

export function HypervisorForm({ app, hypervisor, onSaved, onCancel }: { app: AppType; hypervisor: Hypervisor | null; onSaved: (h: Hypervisor, inventoried: boolean) => void; onCancel: () => void }) {
  const [before] = useState(() => (hypervisor ? fieldsOf(app, hypervisor) : null));
  const [f, setF] = useState<Fields>(() => fieldsOf(app, hypervisor));
  const form = useSubmit();
  const choices = useChoices(app);
  const words = wordsOf(app);
  const set = <K extends keyof Fields>(k: K) => (v: Fields[K]) => setF((o) => ({ ...o, [k]: v }));
  const id = (k: string) => `hv-${k}`;

  const stored: Option[] = [
    ...(choices.data?.users ?? []).map((i) => ({ value: i.links.self!.href, label: `${i.name} (${i.username}, password)` })),
    ...(choices.data?.keys ?? []).map((i) => ({ value: i.links.self!.href, label: `${i.name} (${i.username}, SSH key)` })),
  ];
  const logins: { value: Login; label: string }[] = [
    ...(hypervisor ? [{ value: 'keep' as const, label: 'Keep the current login' }] : []),
    ...(stored.length ? [{ value: 'identity' as const, label: 'A stored login' }] : []),
    ...app.identityKinds.map((k) => (k === 'key' ? { value: 'key' as const, label: 'A new SSH key' } : { value: 'password' as const, label: 'A new password' })),
  ];
  const sites = choices.data?.sites;

  const submit = () =>
    form.submit(async () => {
      const body = bodyOf(app, f, before);
      if (hypervisor) onSaved(await put<Hypervisor>(hypervisor.links.edit?.href ?? `/api/hypervisor/${hypervisor.id}`, body), false);
      else onSaved(await post<Hypervisor>('/api/hypervisor', body), f.inventory);
    }, problemOf(app, f));

  return (
    <FormCard
      id="hypervisor-form"
      title={hypervisor ? `Edit ${hypervisor.name}` : `Register a ${app.server}`}
      error={form.error}
      busy={form.busy}
      submitLabel={hypervisor ? 'Save' : 'Register'}
      busyLabel={hypervisor ? 'Saving…' : 'Registering…'}
      onSubmit={() => void submit()}
      onCancel={onCancel}
    >
      <div className="form-grid">
        <TextField id={id('name')} label="Name (optional)" value={f.name} onChange={set('name')} hint="How Census names it; the host if empty." placeholder={`e.g. ${app.type}1`} />
        <TextField id={id('host')} label="Host name or IP address" value={f.host} onChange={set('host')} required />
        <TextField id={id('port')} label={words.port} value={f.port} onChange={set('port')} inputMode="numeric" hint={app.portHint} required />
        {app.defaultUri !== null && (
          <TextField id={id('uri')} label="Connection URI" value={f.uri} onChange={set('uri')} placeholder={app.defaultUri} hint={`Opened on the host; ${app.defaultUri} by default.`} />
        )}
        {app.tls && (
          <SelectField
            id={id('tls')}
            label="TLS"
            value={f.tls}
            onChange={(v) => set('tls')(v as Tls)}
            options={TLS_OPTIONS}
            hint="verify checks the certificate; require accepts a self-signed one."
          />
        )}
        {sites && sites.length > 0 && (
          <SelectField
            id={id('site')}
            label="Site"
            value={f.siteId || (sites.find((s) => s.defaultSite)?.id ?? '')}
            onChange={set('siteId')}
            options={sites.map((s) => ({ value: s.id, label: s.name }))}
          />
        )}
      </div>
      <fieldset className="radio-group">
        <legend>Log in with</legend>
        {logins.map((l) => (
          <label key={l.value}>
            <input type="radio" name={id('login')} checked={f.login === l.value} onChange={() => set('login')(l.value)} /> {l.label}
          </label>
        ))}
      </fieldset>
      <div className="form-grid">
        {f.login === 'identity' && (
          <SelectField id={id('identity')} label="Stored login" value={f.identity} onChange={set('identity')} options={[{ value: '', label: 'Choose…' }, ...stored]} />
        )}
        {(f.login === 'password' || f.login === 'key') && <TextField id={id('username')} label={words.user} value={f.username} onChange={set('username')} required />}
        {f.login === 'password' && <TextField id={id('password')} label={words.password} type="password" value={f.password} onChange={set('password')} autoComplete="new-password" />}
        {f.login === 'key' && (
          <>
            <TextField id={id('passphrase')} label="Key passphrase (optional)" type="password" value={f.passphrase} onChange={set('passphrase')} />
            <TextArea id={id('privatekey')} label="SSH private key" value={f.privatekey} onChange={set('privatekey')} rows={6} hint="Stored encrypted; it is never shown again." />
          </>
        )}
      </div>
      {!hypervisor && (
        <Checkbox checked={f.inventory} onChange={set('inventory')}>
          Run an inventory of this hypervisor after registering it
        </Checkbox>
      )}
    </FormCard>
  );
}
