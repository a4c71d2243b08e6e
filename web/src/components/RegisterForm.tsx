/**
 * Registers an application server with its credentials through SPP's NodeJS-layer call
 * (POST /ngp/appserver). Checks the fields first; shows the server's own words when it refuses.
 */
import { useRef, useState, type FormEvent, type ReactNode } from 'react';
import { messageOf, post } from '../api/client';
import type { AppServer } from '../api/types';
import type { AppType } from '../lib/appTypes';

type Errors = Partial<Record<'name' | 'host' | 'port' | 'username' | 'password' | 'privatekey', string>>;

export function RegisterForm({ app, onRegistered, onCancel }: { app: AppType; onRegistered: (s: AppServer, inventoried: boolean) => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const [host, setHost] = useState('');
  const [port, setPort] = useState(app.defaultPort === null ? '' : String(app.defaultPort));
  const [username, setUsername] = useState('');
  const [auth, setAuth] = useState<'password' | 'key'>(app.defaultAuth);
  const [password, setPassword] = useState('');
  const [privatekey, setPrivatekey] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [inventory, setInventory] = useState(true);
  const [errors, setErrors] = useState<Errors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const id = (f: string) => `reg-${app.type}-${f}`;

  function validate(): Errors {
    const e: Errors = {};
    if (name.length > 255) e.name = 'Use at most 255 characters.';
    if (!host.trim()) e.host = 'Enter the host name or IP address.';
    else if (!/^[A-Za-z0-9._:[\]-]+$/.test(host.trim())) e.host = 'A host name or IP address has no spaces or other special characters.';
    const p = Number(port);
    if (!port.trim()) e.port = 'Enter the port.';
    else if (!/^\d+$/.test(port.trim()) || !Number.isInteger(p) || p < 1 || p > 65535) e.port = 'The port is a whole number from 1 to 65535.';
    if (!username.trim()) e.username = 'Enter the user name Census logs in with.';
    if (auth === 'password' && !password && !app.passwordOptional) e.password = 'Enter the password.';
    if (auth === 'key') {
      if (!privatekey.trim()) e.privatekey = 'Paste the SSH private key.';
      else if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(privatekey)) e.privatekey = 'This does not look like a private key (it starts with "-----BEGIN … PRIVATE KEY-----").';
    }
    return e;
  }

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setServerError(null);
    const e = validate();
    setErrors(e);
    const first = Object.keys(e)[0];
    if (first) {
      formRef.current?.querySelector<HTMLElement>(`#${id(first)}`)?.focus();
      return;
    }
    const body: Record<string, unknown> = {
      name: name.trim() || host.trim(),
      hostAddress: host.trim(),
      portNumber: Number(port),
      applicationType: app.type,
      osType: 'linux',
      username: username.trim(),
      addToCatJob: inventory,
    };
    if (auth === 'password') body.password = password;
    else {
      body.privatekey = privatekey;
      if (passphrase) body.passphrase = passphrase;
    }
    setBusy(true);
    try {
      const r = await post<{ statusCode: number; response: AppServer }>('/ngp/appserver', body);
      onRegistered(r.response, inventory);
    } catch (err) {
      setServerError(messageOf(err));
      window.setTimeout(() => formRef.current?.querySelector<HTMLElement>('.form-error')?.focus(), 0);
    } finally {
      setBusy(false);
    }
  };

  const field = (key: keyof Errors, label: string, input: ReactNode, hint?: string) => (
    <div className={`field${errors[key] ? ' field-invalid' : ''}`}>
      <label htmlFor={id(key)}>{label}</label>
      {input}
      {hint && !errors[key] && <p className="field-hint" id={`${id(key)}-hint`}>{hint}</p>}
      {errors[key] && (
        <p className="field-error" id={`${id(key)}-error`}>
          {errors[key]}
        </p>
      )}
    </div>
  );
  const aria = (key: keyof Errors, hint = false) => ({
    id: id(key),
    'aria-invalid': errors[key] ? true : undefined,
    'aria-describedby': errors[key] ? `${id(key)}-error` : hint ? `${id(key)}-hint` : undefined,
  });

  return (
    <form ref={formRef} className="register-form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby={id('title')}>
      <h3 id={id('title')}>Register a {app.server}</h3>
      {serverError && (
        <div className="notice notice-danger form-error" role="alert" tabIndex={-1}>
          <span className="notice-icon" aria-hidden="true">✕</span>
          <div>
            <strong>Census did not register the server. </strong>
            {serverError}
          </div>
        </div>
      )}
      <div className="form-grid">
        {field('name', 'Name (optional)', <input {...aria('name', true)} value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. db1" />, 'How Census names it; the host if empty.')}
        {field('host', 'Host name or IP address', <input {...aria('host')} value={host} onChange={(e) => setHost(e.target.value)} autoComplete="off" spellCheck={false} required />)}
        {field('port', 'Port', <input {...aria('port', true)} value={port} onChange={(e) => setPort(e.target.value)} inputMode="numeric" required />, app.portHint)}
      </div>
      {app.ssh && (
        <fieldset className="radio-group">
          <legend>Log in with</legend>
          <label>
            <input type="radio" name={id('auth')} checked={auth === 'key'} onChange={() => setAuth('key')} /> Key
          </label>
          <label>
            <input type="radio" name={id('auth')} checked={auth === 'password'} onChange={() => setAuth('password')} /> Password
          </label>
        </fieldset>
      )}
      <div className="form-grid">
        {field('username', app.ssh ? 'SSH user' : 'User name', <input {...aria('username')} value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" spellCheck={false} required />)}
        {auth === 'password' ? (
          field(
            'password',
            app.passwordOptional ? 'Password (optional)' : app.ssh ? 'SSH password' : 'Password',
            <input {...aria('password', app.passwordOptional)} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" required={!app.passwordOptional} />,
            app.passwordOptional ? 'Leave it empty if the server asks for none.' : undefined,
          )
        ) : (
          <>
            <div className="field">
              <label htmlFor={id('passphrase')}>Key passphrase (optional)</label>
              <input id={id('passphrase')} type="password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} autoComplete="off" />
            </div>
            <div className="form-grid-wide">
              {field(
                'privatekey',
                'SSH private key',
                <textarea {...aria('privatekey', true)} value={privatekey} onChange={(e) => setPrivatekey(e.target.value)} rows={6} spellCheck={false} className="mono" placeholder="-----BEGIN OPENSSH PRIVATE KEY-----" required />,
                'Stored encrypted; it is never shown again.',
              )}
            </div>
          </>
        )}
      </div>
      <label className="checkbox">
        <input type="checkbox" checked={inventory} onChange={(e) => setInventory(e.target.checked)} /> Run an inventory of this server after registering it
      </label>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Registering…' : 'Register'}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
