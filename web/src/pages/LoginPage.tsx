/**
 * Log in with the same login sessions as the API; afterwards back to where the person was. A user
 * who must set a new password first (a new user, or one an admin reset) is asked for it here, and
 * the login sets it in the same call (SPP's ?changePassword=true).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, get, isPasswordExpired, login, messageOf, safeNext } from '../api/client';
import { Logo } from '../components/Layout';
import { navigate, useLocation } from '../lib/router';

export function LoginPage() {
  const { search } = useLocation();
  const next = safeNext(search.get('next'));
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [version, setVersion] = useState<string | null>(null);
  /** Set once the server said the password has expired: the form asks for a new one. */
  const [changing, setChanging] = useState(false);
  const [newPassword, setNewPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const userRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const newRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (changing) newRef.current?.focus();
  }, [changing]);

  useEffect(() => {
    document.title = 'Log in · Census';
    userRef.current?.focus();
    const ctl = new AbortController();
    get<{ version: string }>('/api/lifecycle/ping', ctl.signal).then((p) => setVersion(p.version), () => {});
    return () => ctl.abort();
  }, []);

  const submitNew = async () => {
    if (newPassword.length < 8) {
      setError('The new password needs at least 8 characters.');
      newRef.current?.focus();
      return;
    }
    if (newPassword !== confirm) {
      setError('The two new passwords are not the same.');
      newRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await login(user.trim(), password, newPassword);
      navigate(next, { replace: true });
    } catch (err) {
      setError(messageOf(err));
      newRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (changing) return submitNew();
    if (!user.trim() || !password) {
      setError(!user.trim() ? 'Enter your user name.' : 'Enter your password.');
      (!user.trim() ? userRef : passwordRef).current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await login(user.trim(), password);
      navigate(next, { replace: true });
    } catch (err) {
      if (isPasswordExpired(err)) {
        setChanging(true);
        return;
      }
      setError(err instanceof ApiError && err.status === 401 ? 'The user name or password is not correct.' : messageOf(err));
      setPassword('');
      passwordRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-page">
      <main className="login-card" aria-labelledby="login-title">
        <div className="login-brand">
          <Logo />
          <span className="brand-name">Census</span>
        </div>
        <h1 id="login-title">{changing ? 'Set a new password' : 'Log in'}</h1>
        <p className="muted">
          {changing ? `The password of ${user.trim()} has expired: choose a new one to continue.` : 'Inventory and job control for your application servers.'}
        </p>
        {next !== '/' && <p className="login-next">Log in to continue to <code>{next}</code>.</p>}
        <form onSubmit={(e) => void submit(e)} noValidate>
          {error && (
            <div className="notice notice-danger" role="alert" id="login-error">
              <span className="notice-icon" aria-hidden="true">✕</span>
              <div>{error}</div>
            </div>
          )}
          {changing ? (
            <>
              <div className="field">
                <label htmlFor="login-new-password">New password</label>
                <input id="login-new-password" ref={newRef} type="password" autoComplete="new-password" value={newPassword} onChange={(e) => setNewPassword(e.target.value)} required aria-describedby="login-new-hint" />
                <p className="field-hint" id="login-new-hint">At least 8 characters.</p>
              </div>
              <div className="field">
                <label htmlFor="login-confirm-password">Confirm new password</label>
                <input id="login-confirm-password" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
              </div>
            </>
          ) : (
            <>
              <div className="field">
                <label htmlFor="login-user">User name</label>
                <input id="login-user" ref={userRef} name="username" autoComplete="username" value={user} onChange={(e) => setUser(e.target.value)} required />
              </div>
              <div className="field">
                <label htmlFor="login-password">Password</label>
                <input
                  id="login-password"
                  ref={passwordRef}
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  required
                />
              </div>
            </>
          )}
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? (changing ? 'Setting the password…' : 'Logging in…') : changing ? 'Set password and log in' : 'Log in'}
          </button>
        </form>
        <p className="login-footer muted">{version ? `Census ${version}` : ' '}</p>
      </main>
    </div>
  );
}
