/**
 * Jobs and Operations: the jobs (start, cancel, next run, pause/release of the schedule) and the
 * job sessions (newest first, filtered by status and job, paged). Both are re-read when the live
 * event stream (lib/events.ts) says a job or session changed, with a slow safety poll; without
 * the stream, every second while something runs and every few seconds otherwise.
 */
import { useEffect, useState } from 'react';
import { get, messageOf, post, query } from '../api/client';
import type { Envelope, Job, JobSession } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice, Loaded } from '../components/Feedback';
import { Pager, ResourceTable, type Column } from '../components/ResourceTable';
import { PageHeader, Section } from '../components/Section';
import { ProgressBar, StatusBadge } from '../components/Status';
import { Time } from '../components/Time';
import { browserZone, formatDuration, formatRelative } from '../lib/format';
import { Link, navigate, setQuery, useLocation } from '../lib/router';
import { sessionResult } from '../lib/sessions';
import { useEvents, useStreamLive } from '../lib/events';
import { usePolled, type Polled } from '../lib/usePolled';
import { useMe } from '../lib/me';

const PAGE_SIZE = 20;
const LIVE = ['RUNNING', 'CANCELLING'];
/** The pace while the event stream is up: only a safety net. */
const SAFETY_POLL_MS = 15_000;
/** What moves these lists: a job's status, a session's start, progress and end. */
const moves = (type: string) => type === 'reset' || type === 'job.status' || type.startsWith('session.');

const JOB_COLUMNS: Column<Job>[] = [
  { header: 'Job', cell: (j) => <>{j.name}<span className="sub">id {j.id}</span></> },
  {
    header: 'Status',
    cell: (j) => (
      <>
        <StatusBadge status={j.status} label={j.statusDisplayName || undefined} />
        {j.status === 'RUNNING' && j.lastrun && <ProgressBar percent={j.lastrun.percent} status="RUNNING" />}
      </>
    ),
  },
  {
    header: 'Last run',
    cell: ({ lastrun: run }) =>
      run ? (
        <>
          <Link to={`/jobs/sessions/${run.sessionId}`}>
            <Time ms={run.start} />
          </Link>
          <span className="sub">
            {run.status === 'RUNNING' ? 'running' : <StatusBadge status={run.status} />} {run.status === 'RUNNING' ? `for ${formatDuration(run.duration)}` : `in ${formatDuration(run.duration)}`}
          </span>
        </>
      ) : (
        <span className="muted">Never</span>
      ),
  },
  {
    header: 'Next run',
    cell: (j) =>
      j.nextFireTime ? (
        <>
          <Time ms={j.nextFireTime} zone />
          <span className="sub">{j.status === 'HELD' ? 'schedule paused' : formatRelative(j.nextFireTime)}</span>
        </>
      ) : (
        <span className="muted">Not scheduled</span>
      ),
  },
];

const SESSION_COLUMNS: Column<JobSession>[] = [
  { header: 'Job', cell: (s) => <><Link to={`/jobs/sessions/${s.id}`}>{s.jobName}</Link><span className="sub">session {s.id}</span></> },
  { header: 'Status', cell: (s) => <StatusBadge status={s.status} label={s.statusDisplayName || undefined} /> },
  { header: 'Start', cell: (s) => <Time ms={s.start} /> },
  { header: 'Duration', className: 'num', cell: (s) => formatDuration(s.duration) },
  { header: 'Progress', cell: (s) => <ProgressBar percent={s.percent} status={s.status} /> },
  { header: 'Result', className: 'result', cell: (s) => sessionResult(s) || <span className="muted">—</span> },
];

const STATUS_FILTERS: { value: string; label: string; filter: unknown }[] = [
  { value: '', label: 'All statuses', filter: null },
  { value: 'live', label: 'Running', filter: 'live' },
  { value: 'COMPLETED', label: 'Completed', filter: 'COMPLETED' },
  { value: 'PARTIAL', label: 'Partial', filter: 'PARTIAL' },
  { value: 'FAILED', label: 'Failed', filter: 'FAILED' },
  { value: 'CANCELLED', label: 'Cancelled', filter: 'CANCELLED' },
];

export function JobsPage() {
  useEffect(() => {
    document.title = 'Jobs and Operations · Census';
  }, []);
  const streamLive = useStreamLive();
  const jobs = usePolled(
    async (signal) => (await get<Envelope & { jobs: Job[] }>(`/api/endeavour/job${query({ sort: [{ property: 'name', direction: 'ASC' }] })}`, signal)).jobs,
    'jobs',
    (list) => (streamLive ? SAFETY_POLL_MS : list.some((j) => j.status === 'RUNNING') ? 1_000 : 5_000),
    streamLive ? 'stream' : 'poll',
  );
  useEvents((e) => {
    if (moves(e.type)) jobs.poke();
  });
  const running = (jobs.data ?? []).filter((j) => j.status === 'RUNNING').map((j) => j.lastrun?.sessionId).join(',');
  return (
    <>
      <PageHeader title="Jobs and Operations">
        Start and cancel jobs, pause their schedules, and follow every run. Times are in your browser&rsquo;s time zone ({browserZone()}).
      </PageHeader>
      <JobsSection jobs={jobs} />
      <SessionsSection jobs={jobs.data} reloadOn={`${running}:${streamLive ? 'stream' : 'poll'}`} streamLive={streamLive} />
    </>
  );
}

function JobsSection({ jobs }: { jobs: Polled<Job[]> }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<Job | null>(null);
  // Start and cancel need policy.run, the schedule policy.edit: without them the buttons are not offered.
  const { can } = useMe();
  const mayRun = can('policy.run');
  const mayEdit = can('policy.edit');

  const act = async (job: Job, linkName: string) => {
    const link = job.links[linkName];
    if (!link) return;
    setBusy(`${job.id}:${linkName}`);
    setError(null);
    try {
      await post<Job>(link.href);
      jobs.refresh();
    } catch (err) {
      setError(`${job.name}: ${messageOf(err)}`);
    } finally {
      setBusy(null);
      setCancelling(null);
    }
  };

  return (
    <Section title="Jobs" id="jobs">
      {error && <ErrorNotice error={new Error(error)} />}
      <Loaded state={jobs} what="jobs">
        {(list) => (
          <ResourceTable
            label="Jobs"
            rows={list}
            columns={JOB_COLUMNS}
            rowKey={(j) => j.id}
            rowData={(j) => ({ 'data-job': j.id })}
            empty="There are no jobs."
            actions={(j) => (
              <>
                {mayRun && j.links.start && (
                  <button type="button" className="btn btn-primary btn-small" disabled={busy !== null} onClick={() => void act(j, 'start')} aria-label={`Start ${j.name}`}>
                    {busy === `${j.id}:start` ? 'Starting…' : 'Start'}
                  </button>
                )}
                {mayRun && j.links.cancel && (
                  <button type="button" className="btn btn-danger-outline btn-small" disabled={busy !== null} onClick={() => setCancelling(j)} aria-label={`Cancel ${j.name}`}>
                    Cancel
                  </button>
                )}
                {mayEdit && j.links['pause Schedule'] && (
                  <button type="button" className="btn btn-secondary btn-small" disabled={busy !== null} onClick={() => void act(j, 'pause Schedule')} aria-label={`Pause the schedule of ${j.name}`}>
                    Pause schedule
                  </button>
                )}
                {mayEdit && j.links['release Schedule'] && (
                  <button type="button" className="btn btn-secondary btn-small" disabled={busy !== null} onClick={() => void act(j, 'release Schedule')} aria-label={`Release the schedule of ${j.name}`}>
                    Release schedule
                  </button>
                )}
              </>
            )}
          />
        )}
      </Loaded>
      {cancelling && (
        <ConfirmDialog title={`Cancel ${cancelling.name}?`} confirmLabel="Cancel the run" danger busy={busy !== null} onCancel={() => setCancelling(null)} onConfirm={() => void act(cancelling, 'cancel')}>
          <p>Tasks that have not started are dropped and running ones are stopped. The session ends as Cancelled.</p>
        </ConfirmDialog>
      )}
    </Section>
  );
}

function SessionsSection({ jobs, reloadOn, streamLive }: { jobs: Job[] | undefined; reloadOn: string; streamLive: boolean }) {
  const { search } = useLocation();
  const status = search.get('status') ?? '';
  const jobId = search.get('job') ?? '';
  const page = Math.max(1, Number(search.get('page')) || 1);
  const statusFilter = STATUS_FILTERS.find((f) => f.value === status)?.filter ?? null;

  const sessions = usePolled(
    (signal) => {
      const filter: { property: string; value: unknown; op?: string }[] = [];
      if (statusFilter) filter.push({ property: 'status', value: statusFilter, op: '=' });
      if (jobId) filter.push({ property: 'jobId', value: jobId, op: '=' });
      return get<Envelope & { sessions: JobSession[] }>(
        `/api/endeavour/jobsession${query({ filter, sort: [{ property: 'start', direction: 'DESC' }], pageSize: PAGE_SIZE, pageStartIndex: (page - 1) * PAGE_SIZE })}`,
        signal,
      );
    },
    `${status}|${jobId}|${page}`,
    (env) => (streamLive ? SAFETY_POLL_MS : env.sessions.some((s) => LIVE.includes(s.status)) ? 1_000 : 5_000),
    reloadOn,
  );
  useEvents((e) => {
    if (moves(e.type)) sessions.poke();
  });


  return (
    <Section title="Job sessions" id="sessions" description="Every run of every job, newest first.">
      <div className="toolbar" role="group" aria-label="Filter job sessions">
        <div className="field field-inline">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setQuery({ status: e.target.value, page: null })}>
            {STATUS_FILTERS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field field-inline">
          <label htmlFor="filter-job">Job</label>
          <select id="filter-job" value={jobId} onChange={(e) => setQuery({ job: e.target.value, page: null })}>
            <option value="">All jobs</option>
            {(jobs ?? []).map((j) => (
              <option key={j.id} value={j.id}>
                {j.name}
              </option>
            ))}
          </select>
        </div>
        {(status || jobId) && (
          <button type="button" className="btn btn-link" onClick={() => setQuery({ status: null, job: null, page: null })}>
            Clear filters
          </button>
        )}
      </div>
      <Loaded state={sessions} what="job sessions">
        {(env) => (
          <>
            <ResourceTable
              label="Job sessions"
              className="table-sessions"
              rows={env.sessions}
              columns={SESSION_COLUMNS}
              rowKey={(s) => s.id}
              rowData={(s) => ({ 'data-session': s.id })}
              rowClassName="row-link"
              onRowClick={(s, e) => {
                if (!(e.target as HTMLElement).closest('a')) navigate(`/jobs/sessions/${s.id}`);
              }}
              empty={status || jobId ? 'No job sessions match these filters.' : 'No job has run yet.'}
            />
            {env.sessions.length > 0 && <Pager label="Job session pages" page={page} pageSize={PAGE_SIZE} total={env.total} onPage={(p) => setQuery({ page: p > 1 ? String(p) : null })} />}
          </>
        )}
      </Loaded>
    </Section>
  );
}
