/**
 * Alerts (GET /api/endeavour/alert/message): what Census raised itself and keeps until the
 * condition goes away, newest first, paged on the server. Filters (status, kind, type) and the
 * page live in the address, as on the Audit log. Acknowledge (a row, or the selected rows) needs
 * `alert.acknowledge`; it tells the bell at once.
 */
import { get, post, query } from '../api/client';
import type { Alert, AppServer, Envelope } from '../api/types';
import { Loaded } from '../components/Feedback';
import { SelectField, useChecklist } from '../components/Form';
import { Pager, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { StatusBadge, type Tone } from '../components/Status';
import { Time } from '../components/Time';
import { ALERT_KIND_LABELS, ALERT_KINDS, ALERTS_PATH, alertsChanged, kindLabel } from '../lib/alerts';
import { allApps } from '../lib/appTypes';
import { useCollectors } from '../lib/collectors';
import { useEvents, useStreamLive } from '../lib/events';
import { useMe } from '../lib/me';
import { PAGES } from '../lib/pages';
import { Link, setQuery, useLocation } from '../lib/router';
import { useAction } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const PAGE_SIZE = 25;
const STATUSES = [
  { value: 'active', label: 'Active', filter: 'ACTIVE' },
  { value: 'acknowledged', label: 'Acknowledged', filter: 'ACKNOWLEDGED' },
  { value: 'cleared', label: 'Cleared', filter: 'CLEARED' },
  { value: 'all', label: 'All', filter: null },
] as const;
const TYPES = [
  { value: 'ERROR', label: 'Error' },
  { value: 'WARN', label: 'Warning' },
  { value: 'INFO', label: 'Information' },
];
const SEVERITY_TONE: Record<string, Tone> = { ERROR: 'danger', WARN: 'warning', INFO: 'info' };
const STATUS_TONE: Record<string, Tone> = { ACTIVE: 'danger', ACKNOWLEDGED: 'warning', CLEARED: 'success' };

interface Filters {
  status: (typeof STATUSES)[number]['value'];
  kind: string;
  type: string;
}

function filtersOf(search: URLSearchParams): Filters {
  const status = STATUSES.find((s) => s.value === search.get('status'))?.value ?? 'active';
  return { status, kind: search.get('kind') ?? '', type: search.get('type') ?? '' };
}

function criteria(f: Filters) {
  const out: { property: string; value: unknown; op: string }[] = [];
  const status = STATUSES.find((s) => s.value === f.status)?.filter;
  if (status) out.push({ property: 'status', value: status, op: '=' });
  if (f.kind) out.push({ property: 'kind', value: f.kind, op: '=' });
  if (f.type) out.push({ property: 'type', value: f.type, op: '=' });
  return out;
}

/** Where an alert's object is shown in the UI, if anywhere: sessions, jobs, servers (by their type's page), webhooks. */
type PlaceOf = (o: Alert['objects'][number]) => string | null;

/** The servers the shown alerts name, read by id (never the whole estate: there may be 10,000). */
function usePlaces(shown: Alert[]): PlaceOf {
  const { can } = useMe();
  const { groups } = useCollectors();
  const ids = [...new Set(shown.flatMap((a) => a.objects).filter((o) => o.type === 'appserver').map((o) => Number(o.id)))].sort((a, b) => a - b);
  const servers = usePolled(
    (signal) => (can('appserver.view') && ids.length
      ? get<Envelope & { appservers: AppServer[] }>(`/api/appserver?pageSize=${ids.length}&filter=${encodeURIComponent(JSON.stringify([{ property: 'id', op: 'IN', value: ids }]))}`, signal).then((e) => e.appservers)
      : Promise.resolve([])),
    `alert-servers:${can('appserver.view')}:${ids.join(',')}`,
    () => 60_000,
  );
  return (o) => {
    const id = encodeURIComponent(String(o.id));
    switch (o.type) {
      case 'session':
      case 'jobsession':
        return `/jobs/sessions/${id}`;
      case 'job':
        return can('policy.view') ? `${PAGES.jobs}?job=${id}` : null;
      case 'webhook':
        return can('webhook.view') ? PAGES.webhooks : null;
      case 'appserver': {
        const type = servers.data?.find((s) => String(s.id) === String(o.id))?.applicationType;
        return (type && groups && allApps(groups).find((a) => a.type === type)?.path) || null;
      }
      default:
        return null;
    }
  };
}

function columns(placeOf: PlaceOf, select: { chosen: ReadonlySet<string>; toggle: (id: string, on: boolean) => void } | null): Column<Alert>[] {
  const cols: Column<Alert>[] = [
    {
      header: 'Type',
      cell: (a) => (
        <>
          <StatusBadge status={a.type} tone={SEVERITY_TONE[a.type]} label={a.type === 'WARN' ? 'Warning' : a.type === 'ERROR' ? 'Error' : 'Information'} />
          <span className="sub">{kindLabel(a.kind)}</span>
        </>
      ),
    },
    { header: 'Message', className: 'alert-message', cell: (a) => a.message },
    {
      header: 'Objects',
      cell: (a) => {
        const objects = a.objects.filter((o) => !((o.type === 'session' || o.type === 'jobsession') && String(o.id) === String(a.jobsessionId)));
        return (
          <ul className="cell-list">
            {objects.map((o) => {
              const to = placeOf(o);
              return (
                <li key={`${o.type}:${o.id}`} data-object={o.type}>
                  {to ? <Link to={to}>{o.name}</Link> : o.name} <span className="muted">{o.type}</span>
                </li>
              );
            })}
            {a.jobsessionId !== null && a.jobsessionId !== undefined && (
              <li data-object="session">
                <Link to={`/jobs/sessions/${encodeURIComponent(String(a.jobsessionId))}`}>session {a.jobsessionId}</Link>
              </li>
            )}
            {!objects.length && (a.jobsessionId === null || a.jobsessionId === undefined) && <li className="muted">—</li>}
          </ul>
        );
      },
    },
    { header: 'First', cell: (a) => <Time ms={a.first} /> },
    { header: 'Last', cell: (a) => <Time ms={a.last} /> },
    { header: 'Count', className: 'num', cell: (a) => a.count },
    {
      header: 'Status',
      cell: (a) => (
        <>
          <StatusBadge status={a.status} tone={STATUS_TONE[a.status]} />
          {a.status === 'ACKNOWLEDGED' && a.acknowledgedBy && (
            <span className="sub">
              by {a.acknowledgedBy}, <Time ms={a.acknowledgedAt} />
            </span>
          )}
          {a.status === 'CLEARED' && (
            <span className="sub">
              <Time ms={a.clearedAt} />
            </span>
          )}
        </>
      ),
    },
  ];
  if (select) {
    cols.push({
      header: 'Select',
      cell: (a) =>
        a.status === 'ACTIVE' ? (
          <input type="checkbox" checked={select.chosen.has(a.id)} onChange={(e) => select.toggle(a.id, e.target.checked)} aria-label={`Select the alert ${a.id}: ${a.message}`} />
        ) : null,
    });
  }
  return cols;
}

export function AlertsPage() {
  useTitle('Alerts');
  const { can } = useMe();
  const mayAck = can('alert.acknowledge');
  const { search } = useLocation();
  const applied = filtersOf(search);
  const page = Math.max(1, Number(search.get('page')) || 1);
  const key = `${applied.status}|${applied.kind}|${applied.type}|${page}`;
  const live = useStreamLive();
  const alerts = usePolled(
    (signal) =>
      get<Envelope & { alerts: Alert[] }>(
        `${ALERTS_PATH}${query({ filter: criteria(applied), sort: [{ property: 'last', direction: 'DESC' }], pageSize: PAGE_SIZE, pageStartIndex: (page - 1) * PAGE_SIZE })}`,
        signal,
      ),
    key,
    () => (live ? 15_000 : 5_000),
    live ? 'stream' : 'poll',
  );
  useEvents((e) => {
    if (e.type === 'reset' || e.type === 'session.ended' || e.type === 'job.status') alerts.poke();
  });
  const placeOf = usePlaces(alerts.data?.alerts ?? []);
  const [chosen, toggle] = useChecklist([]);
  const action = useAction();

  const acknowledge = (list: Alert[]) =>
    action.run(
      list.length === 1 ? `${list[0]!.id}:ack` : 'ack-selected',
      async () => {
        // One call per alert: SPP acknowledges one message at a time.
        for (const a of list) await post(`${ALERTS_PATH}/${encodeURIComponent(a.id)}?action=acknowledge`);
      },
      list.length === 1 ? `Acknowledged: ${list[0]!.message}` : `Acknowledged ${list.length} alerts.`,
      () => {
        for (const a of list) toggle(a.id, false);
        alertsChanged();
        alerts.refresh();
      },
    );

  const shown = alerts.data?.alerts ?? [];
  const selected = shown.filter((a) => chosen.has(a.id) && a.status === 'ACTIVE');
  const filtered = applied.status !== 'active' || applied.kind || applied.type;

  return (
    <>
      <PageHeader title="Alerts">
        What needs someone: failed and stalled sessions, missed schedules, failing servers, watched inventory changes and notifications that could not be delivered. An alert clears itself when its condition goes away; acknowledging it says someone is on it.
      </PageHeader>
      <Section
        title="Alerts"
        id="alerts"
        actions={
          mayAck && (
            <button type="button" className="btn btn-secondary" disabled={!selected.length || action.busy !== null} onClick={() => void acknowledge(selected)}>
              {action.busy === 'ack-selected' ? 'Acknowledging…' : `Acknowledge selected${selected.length ? ` (${selected.length})` : ''}`}
            </button>
          )
        }
      >
        {action.notices}
        <AlertFilters key={key} applied={applied} />
        <Loaded state={alerts} what="alerts">
          {(env) => (
            <>
              <ResourceTable
                label="Alerts"
                rows={env.alerts}
                columns={columns(placeOf, mayAck ? { chosen, toggle } : null)}
                rowKey={(a) => a.id}
                rowData={(a) => ({ 'data-alert': a.id, 'data-kind': a.kind, 'data-status': a.status })}
                empty={filtered ? 'No alerts match these filters.' : 'No active alerts: nothing needs you now.'}
                actions={(a) =>
                  mayAck &&
                  a.status === 'ACTIVE' && (
                    <button type="button" className="btn btn-secondary btn-small" disabled={action.busy !== null} onClick={() => void acknowledge([a])} aria-label={`Acknowledge the alert ${a.id}`}>
                      {action.busy === `${a.id}:ack` ? 'Acknowledging…' : 'Acknowledge'}
                    </button>
                  )
                }
              />
              {env.alerts.length > 0 && <Pager label="Alert pages" page={page} pageSize={PAGE_SIZE} total={env.total} onPage={(p) => setQuery({ page: p > 1 ? String(p) : null })} />}
            </>
          )}
        </Loaded>
      </Section>
    </>
  );
}

/** The filters apply as they are chosen, into the address (page 1). */
function AlertFilters({ applied }: { applied: Filters }) {
  const set = (k: keyof Filters) => (v: string) => setQuery({ [k]: k === 'status' && v === 'active' ? null : v, page: null });
  return (
    <form className="toolbar filter-form" role="search" aria-label="Filter the alerts" onSubmit={(e) => e.preventDefault()}>
      <SelectField id="alerts-status" label="Status" value={applied.status} onChange={set('status')} options={STATUSES.map((s) => ({ value: s.value, label: s.label }))} />
      <SelectField id="alerts-kind" label="Kind" value={applied.kind} onChange={set('kind')} options={[{ value: '', label: 'Any' }, ...ALERT_KINDS.map((k) => ({ value: k, label: ALERT_KIND_LABELS[k] }))]} />
      <SelectField id="alerts-type" label="Type" value={applied.type} onChange={set('type')} options={[{ value: '', label: 'Any' }, ...TYPES]} />
      {(applied.status !== 'active' || applied.kind || applied.type) && (
        <div className="field field-button">
          <button type="button" className="btn btn-link" onClick={() => setQuery({ status: null, kind: null, type: null, page: null })}>
            Clear filters
          </button>
        </div>
      )}
    </form>
  );
}
