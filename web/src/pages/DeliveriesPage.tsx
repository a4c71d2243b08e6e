/**
 * System Configuration › Delivery log (GET /api/census/delivery): every notification sent to
 * every receiver (webhooks and mail), with its state, attempts and last error, paged on the
 * server. Filters (channel, webhook, status, event) live in the address, so a webhook's row links
 * to its own log. Opening a delivery lists its attempts (status code, answer, error); Resend
 * (`webhook.edit`) queues it again.
 */
import { get, post, query } from '../api/client';
import type { Delivery, DeliveryAttempt, DeliveryDetail, Envelope, Webhook } from '../api/types';
import { Loaded } from '../components/Feedback';
import { SelectField } from '../components/Form';
import { Pager, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { StatusBadge, type Tone } from '../components/Status';
import { Time } from '../components/Time';
import { formatDuration } from '../lib/format';
import { useMe } from '../lib/me';
import { setQuery, useLocation } from '../lib/router';
import { useAction } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const DELIVERIES_PATH = '/api/census/delivery';
const PAGE_SIZE = 25;
const STATUS_TONE: Record<string, Tone> = { DELIVERED: 'success', FAILED: 'danger', PENDING: 'warning', QUEUED: 'running' };
const STATUSES = ['PENDING', 'QUEUED', 'DELIVERED', 'FAILED'];
const EVENT_TYPES = ['session.ended', 'alert.raised', 'alert.cleared', 'inventory.changed', 'server.registered', 'server.removed'];
const FILTERS = ['channel', 'target', 'status', 'event'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

function criteria(f: Filters) {
  const out: { property: string; value: unknown; op: string }[] = [];
  if (f.channel) out.push({ property: 'channel', value: f.channel, op: '=' });
  if (f.target) out.push({ property: 'targetId', value: f.target, op: '=' });
  if (f.status) out.push({ property: 'status', value: f.status, op: '=' });
  if (f.event) out.push({ property: 'eventType', value: f.event, op: '=' });
  return out;
}

function columns(hookName: (id: Delivery['targetId']) => string | undefined, open: (d: Delivery) => void): Column<Delivery>[] {
  return [
    {
      header: 'Event',
      cell: (d) => (
        <>
          <button type="button" className="btn btn-link" onClick={() => open(d)} aria-label={`Open the delivery ${d.id}`}>
            {d.eventType}
          </button>
          <span className="sub mono">{d.eventId}</span>
        </>
      ),
    },
    {
      header: 'Receiver',
      cell: (d) => (
        <>
          {d.channel === 'webhook' ? `Webhook ${hookName(d.targetId) ?? d.targetId ?? ''}` : 'E-mail'}
          <span className="sub mono">{d.target}</span>
        </>
      ),
    },
    { header: 'Status', cell: (d) => <StatusBadge status={d.status} tone={STATUS_TONE[d.status]} /> },
    { header: 'Attempts', className: 'num', cell: (d) => d.attemptCount },
    { header: 'Last error', className: 'audit-detail', cell: (d) => d.lastError ?? <span className="muted">—</span> },
    {
      header: 'Time',
      cell: (d) => (
        <>
          <Time ms={d.createdAt} />
          {d.deliveredAt !== null ? (
            <span className="sub">
              delivered <Time ms={d.deliveredAt} />
            </span>
          ) : d.status === 'PENDING' ? (
            <span className="sub">
              next try <Time ms={d.nextAttemptAt} />
            </span>
          ) : null}
        </>
      ),
    },
  ];
}

export function DeliveriesPage() {
  useTitle('Delivery log');
  const { can } = useMe();
  const { search } = useLocation();
  const applied = Object.fromEntries(FILTERS.map((k) => [k, search.get(k) ?? ''])) as Filters;
  const page = Math.max(1, Number(search.get('page')) || 1);
  const openId = search.get('open');
  const key = FILTERS.map((k) => applied[k]).join('|') + `|${page}`;
  const deliveries = usePolled(
    (signal) => get<Envelope & { deliveries: Delivery[] }>(`${DELIVERIES_PATH}${query({ filter: criteria(applied), pageSize: PAGE_SIZE, pageStartIndex: (page - 1) * PAGE_SIZE })}`, signal),
    key,
    (env) => (env.deliveries.some((d) => d.status === 'PENDING' || d.status === 'QUEUED') ? 3_000 : 15_000),
  );
  const hooks = usePolled((signal) => get<Envelope & { webhooks: Webhook[] }>('/api/census/webhook', signal).then((e) => e.webhooks), 'delivery-webhooks', () => 60_000);
  const hookName = (id: Delivery['targetId']) => hooks.data?.find((w) => String(w.id) === String(id))?.name;
  const filtered = FILTERS.some((k) => applied[k]);

  return (
    <>
      <PageHeader title="Delivery log" kicker="System Configuration">
        Every notification sent to a webhook or by mail: whether it arrived, how many attempts it took and what the receiver answered. A delivery that fails is retried with back-off until its retry time is up, then shown as failed.
      </PageHeader>
      <Section title="Deliveries" id="deliveries">
        <form className="toolbar filter-form" role="search" aria-label="Filter the deliveries" onSubmit={(e) => e.preventDefault()}>
          <SelectField id="deliveries-channel" label="Channel" value={applied.channel} onChange={(v) => setQuery({ channel: v, target: v === 'webhook' ? applied.target : null, page: null })} options={[{ value: '', label: 'Any' }, { value: 'webhook', label: 'Webhooks' }, { value: 'email', label: 'E-mail' }]} />
          <SelectField
            id="deliveries-target"
            label="Webhook"
            value={applied.target}
            onChange={(v) => setQuery({ target: v, channel: v ? 'webhook' : applied.channel, page: null })}
            options={[{ value: '', label: 'Any' }, ...(hooks.data ?? []).map((w) => ({ value: String(w.id), label: w.name })), ...(applied.target && !hooks.data?.some((w) => String(w.id) === applied.target) ? [{ value: applied.target, label: `webhook ${applied.target}` }] : [])]}
          />
          <SelectField id="deliveries-status" label="Status" value={applied.status} onChange={(v) => setQuery({ status: v, page: null })} options={[{ value: '', label: 'Any' }, ...STATUSES.map((s) => ({ value: s, label: s.charAt(0) + s.slice(1).toLowerCase() }))]} />
          <SelectField id="deliveries-event" label="Event" value={applied.event} onChange={(v) => setQuery({ event: v, page: null })} options={[{ value: '', label: 'Any' }, ...EVENT_TYPES.map((e) => ({ value: e, label: e }))]} />
          {filtered && (
            <div className="field field-button">
              <button type="button" className="btn btn-link" onClick={() => setQuery({ channel: null, target: null, status: null, event: null, page: null })}>
                Clear filters
              </button>
            </div>
          )}
        </form>
        <Loaded state={deliveries} what="deliveries">
          {(env) => (
            <>
              <ResourceTable
                label="Deliveries"
                rows={env.deliveries}
                columns={columns(hookName, (d) => setQuery({ open: String(d.id) }, { replace: false }))}
                rowKey={(d) => String(d.id)}
                rowData={(d) => ({ 'data-delivery': String(d.id), 'data-event': d.eventType, 'data-status': d.status })}
                empty={filtered ? 'No deliveries match these filters.' : 'Nothing has been sent yet.'}
              />
              {env.deliveries.length > 0 && <Pager label="Delivery pages" page={page} pageSize={PAGE_SIZE} total={env.total} onPage={(p) => setQuery({ page: p > 1 ? String(p) : null })} />}
            </>
          )}
        </Loaded>
      </Section>
      {openId && <DeliverySection key={openId} id={openId} mayResend={can('webhook.edit')} hookName={hookName} onResent={deliveries.refresh} />}
    </>
  );
}

const ATTEMPT_COLUMNS: Column<DeliveryAttempt>[] = [
  { header: 'Time', cell: (a) => <Time ms={a.at} /> },
  { header: 'Result', cell: (a) => <StatusBadge status={a.ok ? 'SUCCESS' : 'FAILED'} label={a.ok ? 'Delivered' : 'Failed'} /> },
  { header: 'Status code', className: 'num', cell: (a) => a.statusCode ?? <span className="muted">—</span> },
  { header: 'Took', className: 'num', cell: (a) => formatDuration(a.durationMs) },
  { header: 'Response', cell: (a) => (a.response ? <pre className="code send-response">{a.response}</pre> : <span className="muted">—</span>) },
  { header: 'Error', className: 'audit-detail', cell: (a) => a.error ?? <span className="muted">—</span> },
];

/** One delivery with its attempts, and Resend. */
function DeliverySection({ id, mayResend, hookName, onResent }: { id: string; mayResend: boolean; hookName: (id: Delivery['targetId']) => string | undefined; onResent: () => void }) {
  const delivery = usePolled(
    (signal) => get<DeliveryDetail>(`${DELIVERIES_PATH}/${encodeURIComponent(id)}`, signal),
    `delivery:${id}`,
    (d) => (d.status === 'PENDING' || d.status === 'QUEUED' ? 2_000 : null),
  );
  const action = useAction();
  const d = delivery.data;
  return (
    <Section
      title={`Delivery ${id}`}
      id="delivery"
      description={d ? `${d.eventType} to ${d.channel === 'webhook' ? `webhook ${hookName(d.targetId) ?? d.targetId}` : 'e-mail'} (${d.target})` : undefined}
      actions={
        <>
          {mayResend && d && (d.status === 'FAILED' || d.status === 'DELIVERED') && (
            <button
              type="button"
              className="btn btn-secondary"
              disabled={action.busy !== null}
              onClick={() => void action.run('resend', () => post(`${DELIVERIES_PATH}/${encodeURIComponent(id)}?action=resend`), 'Queued the delivery again: it is sent with the same event id.', () => { delivery.refresh(); onResent(); })}
            >
              {action.busy ? 'Resending…' : 'Resend'}
            </button>
          )}
          <button type="button" className="btn btn-ghost" onClick={() => setQuery({ open: null }, { replace: false })}>
            Close
          </button>
        </>
      }
    >
      {action.notices}
      <Loaded state={delivery} what="the delivery">
        {(one) => (
          <>
            <p>
              <StatusBadge status={one.status} tone={STATUS_TONE[one.status]} /> <span className="muted">event id</span> <code>{one.eventId}</code>
              {one.status === 'PENDING' && (
                <>
                  {' '}
                  <span className="muted">next try</span> <Time ms={one.nextAttemptAt} />
                </>
              )}{' '}
              <span className="muted">gives up</span> <Time ms={one.giveUpAt} />
            </p>
            <ResourceTable label={`Attempts of delivery ${id}`} rows={one.attempts} columns={ATTEMPT_COLUMNS} rowKey={(a) => String(a.id)} rowData={(a) => ({ 'data-attempt': String(a.id), 'data-ok': String(a.ok) })} empty="No attempt yet." />
          </>
        )}
      </Loaded>
    </Section>
  );
}
