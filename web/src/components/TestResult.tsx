/** A connection test's checks (an application server's, a directory's): each with its status and message. */
import { ErrorNotice } from './Feedback';
import { StatusBadge } from './Status';

export interface Check {
  name: string;
  description?: string;
  status: string;
  message?: string;
}

export function TestResult({ title, error, checks, onHide }: { title: string; error?: unknown; checks: readonly Check[]; onHide: () => void }) {
  return (
    <div className="test-result" aria-live="polite">
      <div className="test-result-header">
        <strong>{title}</strong>
        <button type="button" className="btn btn-link" onClick={onHide}>
          Hide
        </button>
      </div>
      {error ? (
        <ErrorNotice error={error} title="The test could not run." />
      ) : (
        <ul className="checks">
          {checks.map((c) => (
            <li key={c.name} className="check" data-check={c.name}>
              <StatusBadge status={c.status} />
              <span className="check-name">{c.description || c.name}</span>
              {c.message && <span className="check-message">{c.message}</span>}
            </li>
          ))}
          {checks.length === 0 && <li className="muted">No tests were run.</li>}
        </ul>
      )}
    </div>
  );
}
