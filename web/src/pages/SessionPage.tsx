/**
 * One job session: its state and progress, its tasks (one per application server), what the run
 * changed, and its log with a type filter. While the session runs, the live event stream
 * (lib/events.ts) drives the page: `log` events of this session are appended to the log (deduped
 * by id), `session.*` re-read the session and `task.updated` the tasks, so the percent, the task
 * states and the log grow on screen; a slow safety poll stays in place. Without the stream
 * (not open yet, refused, failing) they are re-read every second as before. Once more when the
 * session ends, then no more.
 */
import { useEffect, useMemo, useState } from 'react';
import { get, messageOf, post, query } from '../api/client';
import type { Envelope, JobSession, LogEntry, Task } from '../api/types';
import { HYPERVISOR_INVENTORY_SERVICE_ID, INVENTORY_SERVICE_ID } from '../api/types';
import { ChangesTable } from '../components/Changes';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Empty, ErrorNotice, Loaded } from '../components/Feedback';
import { PageHeader, Section } from '../components/Section';
import { Pager } from '../components/ResourceTable';
import { ProgressBar, StatusBadge } from '../components/Status';
import { Time } from '../components/Time';
import { formatClock, formatDuration, formatTime, titleCase } from '../lib/format';
import { Link, setQuery, useLocation } from '../lib/router';
import { changesOutcome, serversOutcome } from '../lib/sessions';
import { idOf, useEvents, useStreamLive } from '../lib/events';
import { usePolled } from '../lib/usePolled';
import { PAGES } from '../lib/pages';
import { useMe } from '../lib/me';

const LIVE_POLL_MS = 1_000;
/** The pace while the event stream is up: only a safety net. */
const SAFETY_POLL_MS = 15_000;
const isLive = (status: string | undefined) => status === 'RUNNING' || status === 'CANCELLING';
/** Sessions of the two inventory jobs record changes (application servers' objects, hypervisors' VMs). */
const isInventory = (serviceId: string) => serviceId === INVENTORY_SERVICE_ID || serviceId === HYPERVISOR_INVENTORY_SERVICE_ID;
export const LOG_TYPES = ['INFO', 'WARN', 'ERROR', 'SUMMARY', 'DEBUG', 'DETAIL'] as const;
const LOG_PAGE = 500;

export function SessionPage({ id }: { id: string }) {
  const streamLive = useStreamLive();
  const pace = streamLive ? SAFETY_POLL_MS : LIVE_POLL_MS;
  const session = usePolled(
    (signal) => get<JobSession>(`/api/endeavour/jobsession/${encodeURIComponent(id)}`, signal),
    `session:${id}`,
    (s) => (isLive(s.status) ? pace : null),
  );
  const s = session.data;
  const live = isLive(s?.status);
  // Tasks, changes and log follow the session while it runs, and are read once more after. The
  // stream opening or going away while it runs reads them once more too (nothing missed).
  const tick = live ? `live:${streamLive ? 'stream' : 'poll'}` : `ended:${s?.status ?? ''}`;
  useEvents((e) => {
    if (e.type === 'reset' || (e.type.startsWith('session.') && idOf(e, 'sessionId') === id)) session.poke();
  });

  useEffect(() => {
    document.title = `${s ? s.jobName : 'Job session'} ${id} · Census`;
  }, [s, id]);

  // The changes are inventory results: besides policy.view, a Hypervisor Inventory's need
  // hypervisor.view, the Application Server Inventory's application.view (as the server decides).
  const { can } = useMe();
  const mayReadChanges = (serviceId: string) => can(serviceId === HYPERVISOR_INVENTORY_SERVICE_ID ? 'hypervisor.view' : 'application.view');
  return (
    <>
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to={PAGES.jobs}>Jobs and Operations</Link> <span aria-hidden="true">›</span> <span aria-current="page">Session {id}</span>
      </nav>
      <Loaded state={session} what="the job session">
        {(data) => (
          <>
            <PageHeader title={data.jobName} kicker={`Job session ${data.id}`} />
            <Summary session={data} onChanged={session.refresh} />
            <TasksSection id={id} live={live} tick={tick} pace={pace} />
            {isInventory(data.serviceId) && mayReadChanges(data.serviceId) && (
              <Section title="Changes" id="changes" description={data.serviceId === HYPERVISOR_INVENTORY_SERVICE_ID ? 'Virtual machines this run found new, gone or changed.' : 'Instances, databases and file systems this run found new, gone or changed.'}>
                <ChangesTable sessionId={id} live={live} refreshKey={tick} />
              </Section>
            )}
            <LogSection id={id} live={live} tick={tick} pace={pace} />
          </>
        )}
      </Loaded>
    </>
  );
}

function Summary({ session: s, onChanged }: { session: JobSession; onChanged: () => void }) {
  const live = isLive(s.status);
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const mayRun = useMe().can('policy.run');
  const [error, setError] = useState<string | null>(null);
  const stats = s.properties?.statistics ?? [];
  const cancel = async () => {
    if (!s.links.cancel) return;
    setBusy(true);
    setError(null);
    try {
      await post(s.links.cancel.href, { catalogCompletedObjects: true });
      onChanged();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
      setConfirm(false);
    }
  };
  return (
    <section className="card summary" aria-label="Session summary">
      <div className="summary-top">
        <div className="summary-status" aria-live="polite">
          <StatusBadge status={s.status} label={s.statusDisplayName || undefined} />
          <ProgressBar percent={s.percent} status={s.status} />
        </div>
        {mayRun && s.links.cancel && (
          <button type="button" className="btn btn-danger-outline" onClick={() => setConfirm(true)} disabled={busy || s.status === 'CANCELLING'}>
            {s.status === 'CANCELLING' ? 'Cancelling…' : 'Cancel session'}
          </button>
        )}
      </div>
      {error && <ErrorNotice error={new Error(error)} title="Could not cancel." />}
      <dl className="summary-facts">
        <div>
          <dt>Started</dt>
          <dd>
            <Time ms={s.start} />
          </dd>
        </div>
        <div>
          <dt>Ended</dt>
          <dd>{s.end ? <Time ms={s.end} /> : <span className="muted">still running</span>}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(s.duration)}</dd>
        </div>
        <div>
          <dt>Started by</dt>
          <dd>{titleCase(s.properties?.trigger ?? '') || '—'}</dd>
        </div>
        {serversOutcome(stats) && (
          <div>
            <dt>Application servers</dt>
            <dd>{serversOutcome(stats)}</dd>
          </div>
        )}
        {isInventory(s.serviceId) && !live && (
          <div>
            <dt>Changes</dt>
            <dd>{changesOutcome(stats) ?? 'Nothing changed'}</dd>
          </div>
        )}
      </dl>
      {confirm && (
        <ConfirmDialog title={`Cancel session ${s.id}?`} confirmLabel="Cancel the run" danger busy={busy} onCancel={() => setConfirm(false)} onConfirm={() => void cancel()}>
          <p>Tasks that have not started are dropped and running ones are stopped. The session ends as Cancelled.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

/** Tasks per page: a session over 10,000 servers is read a page at a time. */
const TASK_PAGE_SIZE = 100;

function TasksSection({ id, live, tick, pace }: { id: string; live: boolean; tick: string; pace: number }) {
  const [page, setPage] = useState(1);
  const tasks = usePolled(
    (signal) => get<Envelope & { tasks: Task[] }>(`/api/endeavour/jobsession/${encodeURIComponent(id)}/task${query({ pageSize: TASK_PAGE_SIZE, pageStartIndex: (page - 1) * TASK_PAGE_SIZE })}`, signal),
    `tasks:${id}:${page}`,
    () => (live ? pace : null),
    tick,
  );
  useEvents((e) => {
    if (e.type === 'reset' || (e.type === 'task.updated' && idOf(e, 'sessionId') === id)) tasks.poke();
  });
  return (
    <Section title="Tasks" id="tasks" description="One task per application server.">
      <Loaded state={tasks} what="tasks">
        {(env) =>
          env.tasks.length === 0 && env.total === 0 ? (
            <Empty title="This session has no tasks." />
          ) : (
            <div className="table-wrap">
              <table className="table table-stack" aria-label="Tasks">
                <thead>
                  <tr>
                    <th scope="col">Task</th>
                    <th scope="col">Status</th>
                    <th scope="col">Start</th>
                    <th scope="col" className="num">Duration</th>
                    <th scope="col" className="num">Attempts</th>
                    <th scope="col">Error</th>
                    <th scope="col">Message</th>
                  </tr>
                </thead>
                <tbody>
                  {env.tasks.map((t) => (
                    <tr key={t.id} data-task={t.name}>
                      <th scope="row">{t.name}</th>
                      <td data-label="Status">
                        <StatusBadge status={t.status} />
                      </td>
                      <td data-label="Start">
                        <Time ms={t.start} />
                      </td>
                      <td className="num" data-label="Duration">{formatDuration(t.duration)}</td>
                      <td className="num" data-label="Attempts">{t.attempts}</td>
                      <td data-label="Error">{t.errorCode ? <span className="code code-danger">{t.errorCode}</span> : <span className="muted">—</span>}</td>
                      <td className="message" data-label="Message">{t.message ?? <span className="muted">—</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {env.total > TASK_PAGE_SIZE && <Pager label="Task pages" page={page} pageSize={TASK_PAGE_SIZE} total={env.total} onPage={setPage} />}
            </div>
          )
        }
      </Loaded>
    </Section>
  );
}

function LogSection({ id, live, tick, pace }: { id: string; live: boolean; tick: string; pace: number }) {
  const { search } = useLocation();
  const typesParam = search.get('types');
  const selected = typesParam ? typesParam.split(',').filter((t) => (LOG_TYPES as readonly string[]).includes(t)) : [...LOG_TYPES];
  const all = selected.length === LOG_TYPES.length;
  const [limit, setLimit] = useState(LOG_PAGE);
  const logKey = `log:${id}:${selected.join(',')}:${limit}`;

  const polled = usePolled(
    async (signal) => {
      if (selected.length === 0) return { logs: [] as LogEntry[], total: 0 };
      const filter: { property: string; value: unknown; op?: string }[] = [{ property: 'jobsessionId', value: id, op: '=' }];
      if (!all) filter.push({ property: 'type', value: selected, op: 'IN' });
      const env = await get<Envelope & { logs: LogEntry[] }>(
        `/api/endeavour/log/job${query({ filter, sort: [{ property: 'logTime', direction: 'ASC' }], pageSize: limit })}`,
        signal,
      );
      return { logs: env.logs, total: env.total };
    },
    logKey,
    () => (live ? pace : null),
    tick,
  );

  // Entries that arrived as `log` events, kept apart from the last read and merged into it by id:
  // a read that started before an entry was written must not make it vanish again.
  const [arrived, setArrived] = useState<{ key: string; entries: LogEntry[] }>({ key: logKey, entries: [] });
  const extra = arrived.key === logKey ? arrived.entries : [];
  useEvents((e) => {
    if (e.type === 'reset') return polled.poke();
    if (e.type !== 'log' || idOf(e, 'jobsessionId') !== id) return;
    const entry = e.data as unknown as LogEntry;
    if (typeof entry.id !== 'string' || !selected.includes(entry.type)) return;
    const shown = polled.data;
    // Showing only the first entries ("Show more"): the new one is beyond them; count it by reading again.
    if (!shown || shown.total > shown.logs.length) return polled.poke();
    setArrived((a) => {
      const list = a.key === logKey ? a.entries : [];
      return list.some((x) => x.id === entry.id) ? a : { key: logKey, entries: [...list, entry] };
    });
  });
  const logs = useMemo(() => {
    const data = polled.data;
    if (!data || extra.length === 0 || data.total > data.logs.length) return polled;
    const have = new Set(data.logs.map((x) => x.id));
    const add = extra.filter((x) => !have.has(x.id));
    if (add.length === 0) return polled;
    const merged = [...data.logs, ...add].sort((a, b) => a.logTime - b.logTime);
    return { ...polled, data: { logs: merged, total: data.total + add.length } };
  }, [polled, extra]);
  // Forget what a read has since brought.
  useEffect(() => {
    const data = polled.data;
    if (!data) return;
    const have = new Set(data.logs.map((x) => x.id));
    setArrived((a) => (a.key === logKey && a.entries.some((x) => have.has(x.id)) ? { key: logKey, entries: a.entries.filter((x) => !have.has(x.id)) } : a));
  }, [polled.data, logKey]);

  const toggle = (t: string) => {
    const next = selected.includes(t) ? selected.filter((x) => x !== t) : LOG_TYPES.filter((x) => x === t || selected.includes(x));
    setQuery({ types: next.length === LOG_TYPES.length ? null : next.length === 0 ? 'none' : next.join(',') });
  };

  return (
    <Section title="Log" id="log" description={live ? 'New entries appear as the run writes them.' : undefined}>
      <fieldset className="chips">
        <legend>Show entries of type</legend>
        {LOG_TYPES.map((t) => (
          <label key={t} className={`chip chip-${t.toLowerCase()}${selected.includes(t) ? ' chip-on' : ''}`}>
            <input type="checkbox" checked={selected.includes(t)} onChange={() => toggle(t)} />
            {titleCase(t)}
          </label>
        ))}
        {!all && (
          <button type="button" className="btn btn-link" onClick={() => setQuery({ types: null })}>
            Show all
          </button>
        )}
      </fieldset>
      <Loaded state={logs} what="the log">
        {(env) =>
          env.logs.length === 0 ? (
            <Empty title={selected.length === 0 ? 'No entry type is selected.' : all ? 'The log is empty so far.' : `No ${selected.map(titleCase).join(', ')} entries.`} />
          ) : (
            <>
              <p className="muted log-count" aria-live="polite">
                {env.total === env.logs.length ? `${env.total} entries` : `First ${env.logs.length} of ${env.total} entries`}
              </p>
              <ol className="log" aria-label="Log entries">
                {env.logs.map((e) => (
                  <li key={e.id} className={`log-entry log-${e.type.toLowerCase()}`} data-type={e.type} data-id={e.id}>
                    <time className="log-time" dateTime={new Date(e.logTime).toISOString()} title={formatTime(e.logTime)}>
                      {formatClock(e.logTime)}
                    </time>
                    <StatusBadge status={e.type} label={titleCase(e.type)} tone={e.type === 'INFO' ? 'neutral' : undefined} />
                    <span className="log-message">{e.message}</span>
                    {e.messageId && <span className="code log-id">{e.messageId}</span>}
                  </li>
                ))}
              </ol>
              {env.total > env.logs.length && (
                <button type="button" className="btn btn-secondary" onClick={() => setLimit((l) => l + LOG_PAGE)}>
                  Show {Math.min(LOG_PAGE, env.total - env.logs.length)} more
                </button>
              )}
            </>
          )
        }
      </Loaded>
    </Section>
  );
}
