/**
 * System Configuration › Webhooks (/api/census/webhook): endpoints Census POSTs its notifications
 * to, signed with HMAC-SHA256. The signing secret is made by Census and shown once, after Register
 * or Rotate secret, with a Copy button (as a new API key is); afterwards only "set". Test sends a
 * signed test event at once and shows the receiver's answer. Each row leads to its delivery log.
 */
import { useState } from 'react';
import { get, post, put } from '../api/client';
import type { Envelope, SendTest, Webhook, WebhookCreated, WebhookEvent, WebhookFormat } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Loaded } from '../components/Feedback';
import { FormCard, SelectField, TextField, useSubmit } from '../components/Form';
import { EditDeleteButtons, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { SendResult } from '../components/SendResult';
import { ShownOnce } from '../components/ShownOnce';
import { eventLabel, WEBHOOK_EVENT_LABELS, WEBHOOK_EVENTS } from '../lib/alerts';
import { useMe } from '../lib/me';
import { PAGES } from '../lib/pages';
import { Link } from '../lib/router';
import { useAction, useDelete } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const WEBHOOKS_PATH = '/api/census/webhook';
const FORMATS: { value: WebhookFormat; label: string }[] = [
  { value: 'json', label: 'JSON (Census)' },
  { value: 'slack', label: 'Slack' },
  { value: 'teams', label: 'Microsoft Teams' },
];
const HOUR = 3_600_000;

/** "24 h", "90 min". */
function retryText(ms: number): string {
  return ms >= HOUR && ms % HOUR === 0 ? `${ms / HOUR} h` : `${Math.round(ms / 60_000)} min`;
}

const COLUMNS: Column<Webhook>[] = [
  { header: 'Name', cell: (w) => <>{w.name}<span className="sub mono">{w.url}</span></> },
  { header: 'Events', cell: (w) => (w.events.length ? w.events.map(eventLabel).join(', ') : <span className="muted">None</span>) },
  { header: 'Format', cell: (w) => FORMATS.find((f) => f.value === w.format)?.label ?? w.format },
  { header: 'Retry for', cell: (w) => retryText(w.retryForMs) },
  { header: 'Secret', cell: (w) => (w.secretSet === false ? <span className="muted">Not set</span> : 'Set (never shown)') },
];

interface Shown {
  name: string;
  secret: string;
}

interface Test {
  hook: Webhook;
  busy: boolean;
  result?: SendTest;
  error?: unknown;
}

export function WebhooksPage() {
  useTitle('Webhooks');
  const { can } = useMe();
  const mayEdit = can('webhook.edit');
  const hooks = usePolled((signal) => get<Envelope & { webhooks: Webhook[] }>(WEBHOOKS_PATH, signal).then((e) => e.webhooks), 'webhooks', () => 60_000);
  const [editing, setEditing] = useState<Webhook | 'new' | null>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  const [rotating, setRotating] = useState<Webhook | null>(null);
  const [test, setTest] = useState<Test | null>(null);
  const action = useAction();
  const remove = useDelete<Webhook>(action, {
    noun: 'the webhook',
    path: (w) => `${WEBHOOKS_PATH}/${w.id}`,
    then: hooks.refresh,
    why: 'Nothing more is sent to it; deliveries not yet made to it are dropped.',
  });
  const edit = (w: Webhook | 'new') => {
    setEditing(w);
    action.say(null);
  };
  const runTest = async (w: Webhook) => {
    setTest({ hook: w, busy: true });
    try {
      setTest({ hook: w, busy: false, result: await post<SendTest>(`${WEBHOOKS_PATH}/${w.id}?action=test`) });
    } catch (error) {
      setTest({ hook: w, busy: false, error });
    }
  };
  const rotate = (w: Webhook) =>
    void action
      .run('rotate', async () => {
        const r = await put<Webhook | WebhookCreated>(`${WEBHOOKS_PATH}/${w.id}`, { rotateSecret: true });
        if ('secret' in r) setShown({ name: r.name, secret: r.secret });
      }, `Made a new signing secret for ${w.name}; the old one no longer signs.`, hooks.refresh)
      .then(() => setRotating(null));

  return (
    <>
      <PageHeader title="Webhooks" kicker="System Configuration">
        Census POSTs the events an endpoint subscribes to as they happen, each signed with the endpoint&apos;s secret (HMAC-SHA256) and with a stable event id, and retries with back-off until the retry time is up.
      </PageHeader>
      <Section
        title="Webhook endpoints"
        id="webhooks"
        actions={
          <>
            <Link to={PAGES.deliveries} className="btn btn-ghost">
              Delivery log
            </Link>
            {mayEdit && editing === null && (
              <button type="button" className="btn btn-secondary" onClick={() => edit('new')}>
                Register webhook
              </button>
            )}
          </>
        }
      >
        {action.notices}
        {editing !== null && (
          <WebhookForm
            hook={editing === 'new' ? null : editing}
            onCancel={() => setEditing(null)}
            onSaved={(w) => {
              action.say(`${editing === 'new' ? 'Registered' : 'Saved'} the webhook ${w.name}.`);
              setEditing(null);
              if ('secret' in w) setShown({ name: w.name, secret: w.secret });
              hooks.refresh();
            }}
          />
        )}
        {test && !test.busy && <SendResult title={`Test of ${test.hook.name}`} result={test.result} error={test.error} onHide={() => setTest(null)} />}
        <Loaded state={hooks} what="webhooks">
          {(list) => (
            <ResourceTable
              label="Webhooks"
              rows={list}
              columns={COLUMNS}
              rowKey={(w) => w.id}
              rowData={(w) => ({ 'data-webhook': w.name })}
              empty="No webhook is registered."
              actions={(w) => (
                <>
                  {mayEdit && (
                    <button type="button" className="btn btn-secondary btn-small" disabled={test?.busy} onClick={() => void runTest(w)} aria-label={`Test ${w.name}`}>
                      {test?.busy && test.hook.id === w.id ? 'Testing…' : 'Test'}
                    </button>
                  )}
                  <Link to={`${PAGES.deliveries}?channel=webhook&target=${encodeURIComponent(w.id)}`} className="btn btn-secondary btn-small" aria-label={`Delivery log of ${w.name}`}>
                    Deliveries
                  </Link>
                  {mayEdit && (
                    <button type="button" className="btn btn-secondary btn-small" disabled={action.busy !== null} onClick={() => setRotating(w)} aria-label={`Rotate the secret of ${w.name}`}>
                      Rotate secret
                    </button>
                  )}
                  {mayEdit && <EditDeleteButtons name={w.name} editDisabled={editing !== null} onEdit={() => edit(w)} onDelete={() => remove.ask(w)} />}
                </>
              )}
            />
          )}
        </Loaded>
      </Section>
      {shown && (
        <ShownOnce
          title={`The signing secret of ${shown.name}`}
          id="webhook-secret"
          label="Signing secret"
          value={shown.secret}
          warning="Copy the secret now and give it to the receiver: you will not see it again. The receiver checks each request's X-Census-Signature with it."
          hint="The receiver verifies the HMAC-SHA256 signature with this secret (docs/notifications.md)."
          onClose={() => setShown(null)}
        />
      )}
      {rotating && (
        <ConfirmDialog
          title={`Rotate the signing secret of ${rotating.name}?`}
          confirmLabel="Rotate secret"
          busy={action.busy !== null}
          onCancel={() => setRotating(null)}
          onConfirm={() => rotate(rotating)}
        >
          <p>Census makes a new secret and shows it once; from then on requests are signed with it, and the receiver must be given it.</p>
        </ConfirmDialog>
      )}
      {remove.dialog}
    </>
  );
}

function WebhookForm({ hook, onSaved, onCancel }: { hook: Webhook | null; onSaved: (w: Webhook | WebhookCreated) => void; onCancel: () => void }) {
  const [name, setName] = useState(hook?.name ?? '');
  const [url, setUrl] = useState(hook?.url ?? 'https://');
  const [events, setEvents] = useState<ReadonlySet<WebhookEvent>>(() => new Set(hook ? WEBHOOK_EVENTS.filter((e) => hook.events.includes(e)) : ['session.ended.FAILED', 'session.ended.PARTIAL', 'alert.raised']));
  const [format, setFormat] = useState<WebhookFormat>(hook?.format ?? 'json');
  const [retryHours, setRetryHours] = useState(String((hook?.retryForMs ?? 24 * HOUR) / HOUR));
  const form = useSubmit();
  const toggle = (e: WebhookEvent, on: boolean) =>
    setEvents((old) => {
      const n = new Set(old);
      if (on) n.add(e);
      else n.delete(e);
      return n;
    });
  const hours = Number(retryHours);
  const problem = !name.trim()
    ? 'Enter a name for the webhook.'
    : !/^https?:\/\/[^/\s]+/i.test(url.trim())
      ? 'The URL is http(s)://host[:port]/path.'
      : !events.size
        ? 'Choose at least one event.'
        : !Number.isFinite(hours) || hours <= 0
          ? 'Retry for a positive number of hours.'
          : null;
  const submit = () =>
    form.submit(async () => {
      const body: Record<string, unknown> = {};
      const chosen = WEBHOOK_EVENTS.filter((e) => events.has(e));
      const retryForMs = Math.round(hours * HOUR);
      if (!hook || hook.name !== name.trim()) body.name = name.trim();
      if (!hook || hook.url !== url.trim()) body.url = url.trim();
      if (!hook || chosen.join() !== WEBHOOK_EVENTS.filter((e) => hook.events.includes(e)).join()) body.events = chosen;
      if (!hook || hook.format !== format) body.format = format;
      if (!hook || hook.retryForMs !== retryForMs) body.retryForMs = retryForMs;
      onSaved(hook ? await put<Webhook>(`${WEBHOOKS_PATH}/${hook.id}`, body) : await post<WebhookCreated>(WEBHOOKS_PATH, body));
    }, problem);

  return (
    <FormCard id="webhook-form" title={hook ? `Edit the webhook ${hook.name}` : 'Register a webhook'} error={form.error} busy={form.busy} submitLabel={hook ? 'Save webhook' : 'Register'} onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="webhook-name" label="Name" value={name} onChange={setName} required />
        <TextField id="webhook-url" label="URL" value={url} onChange={setUrl} required type="url" hint="Census POSTs each event here." />
        <SelectField id="webhook-format" label="Format" value={format} onChange={(v) => setFormat(v as WebhookFormat)} options={FORMATS} hint="Slack and Teams get a message card; JSON the whole event." />
        <TextField id="webhook-retry" label="Retry for (hours)" type="number" min={0.1} step="any" value={retryHours} onChange={setRetryHours} max={168} hint="A failing delivery is retried with back-off this long (up to 7 days), then given up." />
      </div>
      <fieldset className="chips">
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((e) => (
          <label key={e} className={`chip${events.has(e) ? ' chip-on' : ''}`}>
            <input type="checkbox" checked={events.has(e)} onChange={(ev) => toggle(e, ev.target.checked)} />
            {WEBHOOK_EVENT_LABELS[e]}
          </label>
        ))}
      </fieldset>
    </FormCard>
  );
}
