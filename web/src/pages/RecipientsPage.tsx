/**
 * System Configuration › Recipients (/api/census/recipient): who is mailed what. A recipient gets
 * the alerts of the kinds chosen, and the ended sessions of the jobs chosen with the results
 * chosen (none chosen: FAILED and PARTIAL). Viewing needs `smtp.view`, changing `smtp.edit`.
 */
import { useState } from 'react';
import { get, post, put } from '../api/client';
import type { AlertKind, Envelope, Job, Recipient } from '../api/types';
import { Loaded } from '../components/Feedback';
import { FormCard, TextField, useSubmit } from '../components/Form';
import { EditDeleteButtons, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { ALERT_KIND_LABELS, ALERT_KINDS, kindLabel, SESSION_RESULTS } from '../lib/alerts';
import { titleCase } from '../lib/format';
import { useMe } from '../lib/me';
import { useAction, useDelete } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const RECIPIENTS_PATH = '/api/census/recipient';
type Row = Recipient & { name: string };

function columns(jobName: (id: string | number) => string): Column<Row>[] {
  return [
    { header: 'Address', cell: (r) => r.address },
    { header: 'Alert kinds', cell: (r) => (r.alertKinds.length ? r.alertKinds.map(kindLabel).join(', ') : <span className="muted">None</span>) },
    { header: 'Jobs', cell: (r) => (r.jobIds.length ? r.jobIds.map(jobName).join(', ') : <span className="muted">None</span>) },
    { header: 'Results', cell: (r) => (r.jobIds.length ? (r.results.length ? r.results.map(titleCase).join(', ') : 'Failed, Partial') : <span className="muted">—</span>) },
  ];
}

/** The jobs a recipient may be mailed about (`policy.view`); without it, ids only. */
function useJobs() {
  const { can } = useMe();
  const allowed = can('policy.view');
  return usePolled((signal) => (allowed ? get<Envelope & { jobs: Job[] }>('/api/endeavour/job', signal).then((e) => e.jobs) : Promise.resolve<Job[]>([])), `recipient-jobs:${allowed}`);
}

export function RecipientsPage() {
  useTitle('Recipients');
  const { can } = useMe();
  const mayEdit = can('smtp.edit');
  const recipients = usePolled((signal) => get<Envelope & { recipients: Recipient[] }>(RECIPIENTS_PATH, signal).then((e) => e.recipients.map((r) => ({ ...r, name: r.address }))), 'recipients', () => 60_000);
  const jobs = useJobs();
  const jobName = (id: string | number) => jobs.data?.find((j) => String(j.id) === String(id))?.name ?? `job ${id}`;
  const [editing, setEditing] = useState<Row | 'new' | null>(null);
  const action = useAction();
  const remove = useDelete<Row>(action, { noun: 'the recipient', path: (r) => `${RECIPIENTS_PATH}/${r.id}`, then: recipients.refresh, why: 'Census mails them nothing more.' });
  const edit = (r: Row | 'new') => {
    setEditing(r);
    action.say(null);
  };

  return (
    <>
      <PageHeader title="Recipients" kicker="System Configuration">
        Who Census mails, through the mail server of E-mail (SMTP): alerts of the kinds chosen, and the results of the jobs chosen.
      </PageHeader>
      <Section
        title="Mail recipients"
        id="recipients"
        actions={
          mayEdit &&
          editing === null && (
            <button type="button" className="btn btn-secondary" onClick={() => edit('new')}>
              Add recipient
            </button>
          )
        }
      >
        {action.notices}
        {editing !== null && (
          <RecipientForm
            recipient={editing === 'new' ? null : editing}
            jobs={jobs.data ?? []}
            onCancel={() => setEditing(null)}
            onSaved={(r) => {
              action.say(`${editing === 'new' ? 'Added' : 'Saved'} the recipient ${r.address}.`);
              setEditing(null);
              recipients.refresh();
            }}
          />
        )}
        <Loaded state={recipients} what="recipients">
          {(list) => (
            <ResourceTable
              label="Recipients"
              rows={list}
              columns={columns(jobName)}
              rowKey={(r) => String(r.id)}
              rowData={(r) => ({ 'data-recipient': r.address })}
              empty="Nobody is mailed yet."
              actions={(r) => mayEdit && <EditDeleteButtons name={r.address} editDisabled={editing !== null} onEdit={() => edit(r)} onDelete={() => remove.ask(r)} />}
            />
          )}
        </Loaded>
      </Section>
      {remove.dialog}
    </>
  );
}

function toggled<T>(set: ReadonlySet<T>, v: T, on: boolean): ReadonlySet<T> {
  const n = new Set(set);
  if (on) n.add(v);
  else n.delete(v);
  return n;
}

function RecipientForm({ recipient, jobs, onSaved, onCancel }: { recipient: Recipient | null; jobs: Job[]; onSaved: (r: Recipient) => void; onCancel: () => void }) {
  const [address, setAddress] = useState(recipient?.address ?? '');
  const [kinds, setKinds] = useState<ReadonlySet<AlertKind>>(() => new Set(recipient ? ALERT_KINDS.filter((k) => recipient.alertKinds.includes(k)) : ['session.failed', 'schedule.missed']));
  const [jobIds, setJobIds] = useState<ReadonlySet<string>>(() => new Set((recipient?.jobIds ?? []).map(String)));
  const [results, setResults] = useState<ReadonlySet<string>>(() => new Set(recipient?.results ?? []));
  const form = useSubmit();
  const problem = !/^[^@\s]+@[^@\s]+$/.test(address.trim()) ? 'Enter an e-mail address.' : !kinds.size && !jobIds.size ? 'Choose at least one alert kind or job.' : null;
  // Job ids go as the server lists them (numbers when it gives numbers).
  const idValue = (id: string) => {
    const job = jobs.find((j) => String(j.id) === id);
    return job ? job.id : /^\d+$/.test(id) ? Number(id) : id;
  };
  const submit = () =>
    form.submit(async () => {
      const body = { address: address.trim(), alertKinds: ALERT_KINDS.filter((k) => kinds.has(k)), jobIds: [...jobIds].map(idValue), results: SESSION_RESULTS.filter((r) => results.has(r)) };
      onSaved(recipient ? await put<Recipient>(`${RECIPIENTS_PATH}/${recipient.id}`, body) : await post<Recipient>(RECIPIENTS_PATH, body));
    }, problem);
  const shownJobs = [...jobs.map((j) => ({ id: String(j.id), name: j.name })), ...[...jobIds].filter((id) => !jobs.some((j) => String(j.id) === id)).map((id) => ({ id, name: `job ${id}` }))];

  return (
    <FormCard id="recipient-form" title={recipient ? `Edit the recipient ${recipient.address}` : 'Add a recipient'} error={form.error} busy={form.busy} submitLabel={recipient ? 'Save recipient' : 'Add recipient'} onSubmit={() => void submit()} onCancel={onCancel}>
      <div className="form-grid">
        <TextField id="recipient-address" label="Address" type="email" value={address} onChange={setAddress} required placeholder="ops@example.com" />
      </div>
      <fieldset className="chips">
        <legend>Alert kinds</legend>
        {ALERT_KINDS.map((k) => (
          <label key={k} className={`chip${kinds.has(k) ? ' chip-on' : ''}`}>
            <input type="checkbox" checked={kinds.has(k)} onChange={(e) => setKinds((s) => toggled(s, k, e.target.checked))} />
            {ALERT_KIND_LABELS[k]}
          </label>
        ))}
      </fieldset>
      <fieldset className="chips">
        <legend>Session results of these jobs</legend>
        {shownJobs.map((j) => (
          <label key={j.id} className={`chip${jobIds.has(j.id) ? ' chip-on' : ''}`}>
            <input type="checkbox" checked={jobIds.has(j.id)} onChange={(e) => setJobIds((s) => toggled(s, j.id, e.target.checked))} />
            {j.name}
          </label>
        ))}
        {!shownJobs.length && <span className="muted">No jobs to choose from.</span>}
      </fieldset>
      <fieldset className="chips">
        <legend>Results (none chosen: Failed and Partial)</legend>
        {SESSION_RESULTS.map((r) => (
          <label key={r} className={`chip${results.has(r) ? ' chip-on' : ''}`}>
            <input type="checkbox" checked={results.has(r)} onChange={(e) => setResults((s) => toggled(s, r, e.target.checked))} />
            {titleCase(r)}
          </label>
        ))}
      </fieldset>
    </FormCard>
  );
}
