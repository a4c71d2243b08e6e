/**
 * System Configuration › Audit log (GET /api/endeavour/log/audit): who did what, when, from
 * where and how it ended. Filters (user, action, target type, outcome, time range), order and
 * page live in the address, so a view can be bookmarked; Export CSV downloads
 * …/log/audit/download/csv with the same filters and order.
 */
import { useState } from 'react';
import { download, get, messageOf, query } from '../api/client';
import type { AuditEntry, Envelope } from '../api/types';
import { Loaded } from '../components/Feedback';
import { FormError, SelectField, TextField } from '../components/Form';
import { Pager, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { StatusBadge } from '../components/Status';
import { Time } from '../components/Time';
import { setQuery, useLocation } from '../lib/router';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const PAGE_SIZE = 25;
const FILTERS = ['user', 'action', 'type', 'outcome', 'from', 'to'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

/** What the log records actions on (the entries' `targetType`). */
const TARGET_TYPES = ['user', 'role', 'resourcepool', 'apikey', 'directory', 'appserver', 'identity', 'job', 'jobsession', 'route'];
/** Suggestions for the action filter; any text works, `*` matches anything. */
const ACTIONS = ['login', 'logout', 'user.*', 'role.*', 'resourcepool.*', 'apikey.*', 'directory.*', 'appserver.*', 'identity.*', 'job.*', 'request'];

/** A datetime-local value (the browser's zone) as epoch ms; undefined when empty or not a time. */
function localTime(v: string): number | undefined {
  if (!v) return undefined;
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? t : undefined;
}

/** SPP's filter criteria for the chosen filters. */
function criteria(f: Filters) {
  const out: { property: string; value: unknown; op: string }[] = [];
  if (f.user) out.push({ property: 'user', value: f.user, op: '=' });
  if (f.action) out.push({ property: 'action', value: f.action, op: '=' });
  if (f.type) out.push({ property: 'targetType', value: f.type, op: '=' });
  if (f.outcome) out.push({ property: 'outcome', value: f.outcome, op: '=' });
  const from = localTime(f.from);
  const to = localTime(f.to);
  if (from !== undefined) out.push({ property: 'accessTime', value: from, op: '>=' });
  // The minute chosen is included: up to its last millisecond.
  if (to !== undefined) out.push({ property: 'accessTime', value: to + 59_999, op: '<=' });
  return out;
}

const COLUMNS = (direction: 'ASC' | 'DESC', onToggle: () => void): Column<AuditEntry>[] => [
  { header: 'Time', sort: { direction, onToggle }, cell: (e) => <Time ms={e.accessTime} /> },
  { header: 'User', cell: (e) => <>{e.user}{e.userIp && <span className="sub">from {e.userIp}</span>}</> },
  { header: 'Action', cell: (e) => <code>{e.action}</code> },
  { header: 'Target', cell: (e) => (e.targetType ? <>{e.target ?? e.targetId}<span className="sub">{e.targetType}{e.targetId !== null && e.target !== null ? ` ${e.targetId}` : ''}</span></> : <span className="muted">—</span>) },
  { header: 'Outcome', cell: (e) => <StatusBadge status={e.outcome === 'success' ? 'SUCCESS' : 'FAILED'} label={e.outcome === 'success' ? 'Success' : 'Failure'} /> },
  { header: 'Details', className: 'audit-detail', cell: (e) => e.description },
];

export function AuditPage() {
  useTitle('Audit log');
  const { search } = useLocation();
  const applied = Object.fromEntries(FILTERS.map((k) => [k, search.get(k) ?? ''])) as Filters;
  const direction = search.get('order') === 'asc' ? 'ASC' : 'DESC';
  const page = Math.max(1, Number(search.get('page')) || 1);
  const listQuery = { filter: criteria(applied), sort: [{ property: 'accessTime', direction } as const] };
  const key = search.toString();

  const entries = usePolled(
    (signal) => get<Envelope & { logs: AuditEntry[] }>(`/api/endeavour/log/audit${query({ ...listQuery, pageSize: PAGE_SIZE, pageStartIndex: (page - 1) * PAGE_SIZE })}`, signal),
    key,
    () => 30_000,
  );
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  const exportCsv = async () => {
    setExporting(true);
    setExportError(null);
    try {
      await download(`/api/endeavour/log/audit/download/csv${query(listQuery)}`, 'census-audit.csv');
    } catch (err) {
      setExportError(messageOf(err));
    } finally {
      setExporting(false);
    }
  };
  const filtered = FILTERS.some((k) => applied[k]);

  return (
    <>
      <PageHeader title="Audit log" kicker="System Configuration">
        Every login and every change, with who, when, from where and how it ended; refused attempts too.
      </PageHeader>
      <Section
        title="Entries"
        id="audit"
        actions={
          <button type="button" className="btn btn-secondary" onClick={() => void exportCsv()} disabled={exporting}>
            {exporting ? 'Exporting…' : 'Export CSV'}
          </button>
        }
      >
        <FormError message={exportError} />
        <AuditFilters key={key} applied={applied} />
        <Loaded state={entries} what="the audit log">
          {(env) => (
            <>
              <ResourceTable
                label="Audit log"
                rows={env.logs}
                columns={COLUMNS(direction, () => setQuery({ order: direction === 'DESC' ? 'asc' : null, page: null }))}
                rowKey={(e) => e.id}
                rowData={(e) => ({ 'data-action': e.action, 'data-outcome': e.outcome })}
                empty={filtered ? 'No entries match these filters.' : 'The audit log is empty.'}
              />
              {env.logs.length > 0 && <Pager label="Audit log pages" page={page} pageSize={PAGE_SIZE} total={env.total} onPage={(p) => setQuery({ page: p > 1 ? String(p) : null })} />}
            </>
          )}
        </Loaded>
      </Section>
    </>
  );
}

/** The filters as typed; Apply puts them in the address (page 1), which reads the log again. */
function AuditFilters({ applied }: { applied: Filters }) {
  const [f, setF] = useState<Filters>(applied);
  const set = (k: keyof Filters) => (v: string) => setF((old) => ({ ...old, [k]: v }));
  const apply = (next: Filters) => setQuery({ ...next, page: null });
  const empty = Object.fromEntries(FILTERS.map((k) => [k, ''])) as Filters;
  return (
    <form
      className="toolbar filter-form"
      role="search"
      aria-label="Filter the audit log"
      onSubmit={(e) => {
        e.preventDefault();
        apply(f);
      }}
    >
      <TextField id="audit-user" label="User" value={f.user} onChange={set('user')} placeholder="admin, ops.*" />
      <TextField id="audit-action" label="Action" value={f.action} onChange={set('action')} list="audit-actions" placeholder="login, user.*" />
      <datalist id="audit-actions">
        {ACTIONS.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <SelectField id="audit-type" label="Target type" value={f.type} onChange={set('type')} options={[{ value: '', label: 'Any' }, ...TARGET_TYPES.map((t) => ({ value: t, label: t }))]} />
      <SelectField id="audit-outcome" label="Outcome" value={f.outcome} onChange={set('outcome')} options={[{ value: '', label: 'Any' }, { value: 'success', label: 'Success' }, { value: 'failure', label: 'Failure' }]} />
      <TextField id="audit-from" label="From" type="datetime-local" value={f.from} onChange={set('from')} />
      <TextField id="audit-to" label="To" type="datetime-local" value={f.to} onChange={set('to')} />
      <div className="field field-button">
        <button type="submit" className="btn btn-primary">
          Apply filters
        </button>
      </div>
      {FILTERS.some((k) => applied[k]) && (
        <div className="field field-button">
          <button type="button" className="btn btn-link" onClick={() => apply(empty)}>
            Clear filters
          </button>
        </div>
      )}
    </form>
  );
}
