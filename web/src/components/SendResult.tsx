/**
 * How a test send went (a webhook's Test, the mail server's test message): delivered or not, the
 * receiver's status code and answer, how long it took, or the error — in the server's words.
 */
import type { SendTest } from '../api/types';
import { formatDuration } from '../lib/format';
import { ErrorNotice } from './Feedback';
import { StatusBadge } from './Status';

export function SendResult({ title, result, error, onHide }: { title: string; result?: SendTest; error?: unknown; onHide: () => void }) {
  return (
    <div className="test-result send-result" aria-live="polite" data-ok={result ? String(result.ok) : 'error'}>
      <div className="test-result-header">
        <strong>
          {title}
          {result ? (result.ok ? ': delivered' : ': failed') : ''}
        </strong>
        <button type="button" className="btn btn-link" onClick={onHide}>
          Hide
        </button>
      </div>
      {error || !result ? (
        <ErrorNotice error={error} title="The test could not run." />
      ) : (
        <dl className="send-facts">
          <div>
            <dt>Result</dt>
            <dd>
              <StatusBadge status={result.ok ? 'SUCCESS' : 'FAILED'} label={result.ok ? 'Delivered' : 'Failed'} />
            </dd>
          </div>
          {result.statusCode !== undefined && result.statusCode !== null && (
            <div>
              <dt>Status code</dt>
              <dd data-field="statusCode">{result.statusCode}</dd>
            </div>
          )}
          {result.durationMs !== undefined && (
            <div>
              <dt>Took</dt>
              <dd>{formatDuration(result.durationMs)}</dd>
            </div>
          )}
          {result.error && (
            <div className="send-wide">
              <dt>Error</dt>
              <dd data-field="error">{result.error}</dd>
            </div>
          )}
          {result.response && (
            <div className="send-wide">
              <dt>Answer</dt>
              <dd>
                <pre className="code send-response" data-field="response">{result.response}</pre>
              </dd>
            </div>
          )}
        </dl>
      )}
    </div>
  );
}
