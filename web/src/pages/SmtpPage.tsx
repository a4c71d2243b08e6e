/**
 * System Configuration › E-mail (SMTP) (/api/smtp, SPP's name): the one mail server Census sends
 * alerts and session results through. The password is write-only: never shown back, only "set";
 * an empty field keeps it. Send test message mails an address at once and shows the server's answer.
 * Changing needs `smtp.edit`; with `smtp.view` alone the settings are shown, not editable.
 */
import { useState } from 'react';
import { get, post, put } from '../api/client';
import type { Envelope, SendTest, SmtpSecurity, SmtpServer } from '../api/types';
import { Loaded } from '../components/Feedback';
import { FormCard, SelectField, TextField, useSubmit } from '../components/Form';
import { PageHeader, Section } from '../components/Section';
import { SendResult } from '../components/SendResult';
import { useMe } from '../lib/me';
import { PAGES } from '../lib/pages';
import { Link } from '../lib/router';
import { useAction, useDelete } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const SMTP_PATH = '/api/smtp';
const SECURITY: { value: SmtpSecurity; label: string; port: number }[] = [
  { value: 'starttls', label: 'STARTTLS', port: 587 },
  { value: 'tls', label: 'TLS (SMTPS)', port: 465 },
  { value: 'none', label: 'None', port: 25 },
];

export function SmtpPage() {
  useTitle('E-mail (SMTP)');
  const { can } = useMe();
  const mayEdit = can('smtp.edit');
  const servers = usePolled((signal) => get<Envelope & { smtps: SmtpServer[] }>(SMTP_PATH, signal).then((e) => e.smtps[0] ?? null), 'smtp');
  const action = useAction();
  const remove = useDelete<SmtpServer & { name: string }>(action, {
    noun: 'the mail server',
    path: (s) => `${SMTP_PATH}/${s.id}`,
    then: servers.refresh,
    why: 'Census sends no more mail until a mail server is set again; recipients stay.',
  });

  return (
    <>
      <PageHeader title="E-mail (SMTP)" kicker="System Configuration">
        The mail server Census sends alerts and session results through, to the <Link to={PAGES.recipients}>recipients</Link> chosen for them.
      </PageHeader>
      <Section
        title="Mail server"
        id="smtp"
        actions={
          mayEdit &&
          servers.data && (
            <button type="button" className="btn btn-danger-outline" onClick={() => remove.ask({ ...servers.data!, name: servers.data!.host })}>
              Remove
            </button>
          )
        }
      >
        {action.notices}
        <Loaded state={servers} what="the mail server">
          {(server) => (
            <SmtpForm
              key={server ? `${server.id}:${JSON.stringify(server)}` : 'new'}
              server={server}
              mayEdit={mayEdit}
              onSaved={(s) => {
                action.say(`Saved the mail server ${s.host}:${s.port}.`);
                servers.set(s);
              }}
            />
          )}
        </Loaded>
      </Section>
      {servers.data && mayEdit && <TestMessage server={servers.data} />}
      {remove.dialog}
    </>
  );
}

interface Settings {
  host: string;
  port: string;
  security: SmtpSecurity;
  username: string;
  password: string;
  sender: string;
  uiUrl: string;
}

const settingsOf = (s: SmtpServer | null): Settings => ({
  host: s?.host ?? '',
  port: String(s?.port ?? 587),
  security: s?.security ?? 'starttls',
  username: s?.username ?? '',
  password: '',
  sender: s?.sender ?? '',
  uiUrl: s?.uiUrl ?? '',
});

function SmtpForm({ server, mayEdit, onSaved }: { server: SmtpServer | null; mayEdit: boolean; onSaved: (s: SmtpServer) => void }) {
  const [before] = useState(() => settingsOf(server));
  const [s, setS] = useState<Settings>(before);
  const form = useSubmit();
  const text = (k: keyof Settings) => ({ value: s[k], onChange: (v: string) => setS((o) => ({ ...o, [k]: v })), disabled: !mayEdit });
  const port = Number(s.port);
  const problem = !s.host.trim()
    ? "Enter the mail server's host name."
    : !Number.isInteger(port) || port < 1 || port > 65535
      ? 'The port is a number from 1 to 65535.'
      : !/^[^@\s]+@[^@\s]+$/.test(s.sender.trim().replace(/^.*<(.+)>$/, '$1'))
        ? 'Enter the sender address, e.g. census@example.com.'
        : s.uiUrl.trim() && !/^https?:\/\/\S+$/i.test(s.uiUrl.trim())
          ? 'The web UI address is http(s)://…'
          : null;
  const submit = () =>
    form.submit(async () => {
      const body: Record<string, unknown> = {};
      const values: Record<keyof Settings, unknown> = { host: s.host.trim(), port, security: s.security, username: s.username.trim() || null, password: s.password, sender: s.sender.trim(), uiUrl: s.uiUrl.trim() || null };
      for (const k of Object.keys(values) as (keyof Settings)[]) {
        if (k === 'password') continue;
        if (server && before[k] === s[k]) continue;
        body[k] = values[k];
      }
      if (s.password) body.password = s.password;
      onSaved(server ? await put<SmtpServer>(`${SMTP_PATH}/${server.id}`, body) : await post<SmtpServer>(SMTP_PATH, body));
    }, problem);
  const pickSecurity = (v: string) =>
    setS((o) => {
      const sec = v as SmtpSecurity;
      // The port follows the security while it is still the usual one of the other choice.
      const usual = SECURITY.find((x) => String(x.port) === o.port);
      return { ...o, security: sec, port: usual ? String(SECURITY.find((x) => x.value === sec)!.port) : o.port };
    });

  return (
    <FormCard
      id="smtp-form"
      title={server ? `${server.host}:${server.port}` : 'No mail server is set: Census sends no mail.'}
      error={form.error}
      busy={form.busy}
      submitLabel="Save"
      notReady={!mayEdit}
      onSubmit={() => void submit()}
      onCancel={() => setS(before)}
    >
      <div className="form-grid">
        <TextField id="smtp-host" label="Host" {...text('host')} required placeholder="smtp.example.com" />
        <TextField id="smtp-port" label="Port" type="number" min={1} max={65535} {...text('port')} required />
        <SelectField id="smtp-security" label="Security" value={s.security} onChange={pickSecurity} options={SECURITY} hint="STARTTLS upgrades a plain connection; TLS is encrypted from the start." />
        <TextField id="smtp-username" label="Login (optional)" {...text('username')} autoComplete="off" />
        <TextField
          id="smtp-password"
          label="Password"
          type="password"
          autoComplete="new-password"
          {...text('password')}
          hint={server?.passwordSet ? 'Set, never shown. Leave empty to keep it.' : 'Never shown again: Census keeps it sealed.'}
        />
        <TextField id="smtp-sender" label="Sender" {...text('sender')} required placeholder="Census <census@example.com>" />
        <TextField id="smtp-ui-url" label="Web UI address (optional)" {...text('uiUrl')} wide placeholder="https://census.example.com" hint="For the links to sessions in messages; empty: the server's own address." />
      </div>
    </FormCard>
  );
}

/** Send test message: an address, then the server's answer. */
function TestMessage({ server }: { server: SmtpServer }) {
  const [to, setTo] = useState('');
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState<{ to: string; result?: SendTest; error?: unknown } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const send = async () => {
    const address = to.trim();
    if (!/^[^@\s]+@[^@\s]+$/.test(address)) return setProblem('Enter the address to send the test message to.');
    setProblem(null);
    setBusy(true);
    try {
      setShown({ to: address, result: await post<SendTest>(`${SMTP_PATH}/${server.id}?action=test`, { to: address }) });
    } catch (error) {
      setShown({ to: address, error });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Send test message" id="smtp-test" description="Sends a message through the saved settings now, and shows what the mail server answered.">
      <form
        className="toolbar filter-form"
        aria-label="Send a test message"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <TextField id="smtp-test-to" label="Send to" type="email" value={to} onChange={setTo} placeholder="you@example.com" />
        <div className="field field-button">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Sending…' : 'Send test message'}
          </button>
        </div>
      </form>
      {problem && (
        <p className="field-error" role="alert">
          {problem}
        </p>
      )}
      {shown && <SendResult title={`Test message to ${shown.to}`} result={shown.result} error={shown.error} onHide={() => setShown(null)} />}
    </Section>
  );
}
