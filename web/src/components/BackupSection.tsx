/**
 * The Backup section of every Manage Protection page, with SPP's Run Inventory button: blue
 * "Run Inventory" while the inventory job is IDLE or HELD, grayed out "Inventory In Progress"
 * otherwise. The state comes from the server only (lib/inventoryJob.tsx). Someone who may not
 * run jobs (policy.run; a Monitor) gets no button, only the state as words.
 */
import { ApiError } from '../api/client';
import { formatDuration, formatRelative } from '../lib/format';
import { useInventoryJob } from '../lib/inventoryJob';
import { useMe } from '../lib/me';
import { Link } from '../lib/router';
import { ErrorNotice } from './Feedback';
import { Section } from './Section';
import { ProgressBar, StatusBadge } from './Status';
import { Time } from './Time';

export function BackupSection({ what }: { what: string }) {
  const { kind, job, inProgress, starting, startError, run } = useInventoryJob();
  const j = job.data;
  const last = j?.lastrun;
  const disabled = !j || inProgress || starting;
  const label = !j ? 'Run Inventory' : inProgress ? 'Inventory In Progress' : starting ? 'Starting…' : 'Run Inventory';

  const mayRun = useMe().can('policy.run');
  const button = !mayRun ? (
    inProgress ? (
      <span className="inventory-state" role="status">
        <span className="spinner" aria-hidden="true" />
        Inventory In Progress
      </span>
    ) : null
  ) : (
    <button type="button" className="btn btn-primary btn-inventory" disabled={disabled} onClick={() => void run()} aria-describedby="inventory-state">
      {inProgress && <span className="spinner spinner-light" aria-hidden="true" />}
      {label}
    </button>
  );

  return (
    <Section
      title="Backup"
      id="backup"
      description={`The ${kind.name} job connects to every registered ${kind.target} and records its ${what}.`}
      actions={button}
    >
      {job.error && !(job.error instanceof ApiError && job.error.isUnauthorized) ? (
        <ErrorNotice error={job.error} title="Could not read the inventory job." onRetry={job.refresh} />
      ) : null}
      {startError ? <ErrorNotice error={startError} title="The inventory did not start." /> : null}
      <div id="inventory-state" className="facts" aria-live="polite">
        {!j ? (
          <span className="muted">{job.loading ? 'Reading the inventory job…' : `There is no ${kind.name} job on this server.`}</span>
        ) : inProgress && last ? (
          <>
            <span className="fact">
              <StatusBadge status={j.status} label={j.statusDisplayName || undefined} />
            </span>
            <span className="fact">
              Started <Time ms={last.start} /> ({formatRelative(last.start)})
            </span>
            <span className="fact fact-progress">
              <ProgressBar percent={last.percent} status="RUNNING" />
            </span>
            <span className="fact">
              <Link to={`/jobs/sessions/${last.sessionId}`}>Watch the running session</Link>
            </span>
          </>
        ) : (
          <>
            <span className="fact">
              <StatusBadge status={j.status} label={j.statusDisplayName || undefined} />
            </span>
            {last ? (
              <span className="fact">
                Last run <StatusBadge status={last.status} /> on <Time ms={last.start} />, took {formatDuration(last.duration)} ·{' '}
                <Link to={`/jobs/sessions/${last.sessionId}`}>View session</Link>
              </span>
            ) : (
              <span className="fact muted">Never run.</span>
            )}
            <span className="fact">
              Next run: {j.nextFireTime ? <Time ms={j.nextFireTime} zone /> : <span className="muted">not scheduled</span>}
              {j.status === 'HELD' && <span className="muted"> (schedule paused)</span>}
            </span>
          </>
        )}
      </div>
    </Section>
  );
}
