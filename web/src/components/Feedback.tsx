/** Loading, empty and error states, shown where the data would be. */
import type { ReactNode } from 'react';
import { messageOf } from '../api/client';

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <div className="empty-text">{children}</div>}
    </div>
  );
}

export function ErrorNotice({ error, title, onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  return (
    <div className="notice notice-danger" role="alert">
      <span className="notice-icon" aria-hidden="true">✕</span>
      <div>
        {title && <strong>{title} </strong>}
        {messageOf(error)}
        {onRetry && (
          <button type="button" className="btn btn-link" onClick={onRetry}>
            Try again
          </button>
        )}
      </div>
    </div>
  );
}

export function Notice({ tone, children }: { tone: 'success' | 'info' | 'warning'; children: ReactNode }) {
  const icon = tone === 'success' ? '✓' : tone === 'warning' ? '!' : 'i';
  return (
    <div className={`notice notice-${tone}`} role={tone === 'warning' ? 'alert' : 'status'}>
      <span className="notice-icon" aria-hidden="true">{icon}</span>
      <div>{children}</div>
    </div>
  );
}

/** Shows what was loaded, or loading / error in its place; a failed refresh keeps the old data with the error above it. */
export function Loaded<T>({ state, what, children }: { state: { data: T | undefined; error: unknown; loading: boolean; refresh: () => void }; what: string; children: (data: T) => ReactNode }) {
  if (state.data === undefined) {
    if (state.error) return <ErrorNotice error={state.error} title={`Could not load ${what}.`} onRetry={state.refresh} />;
    return <Loading what={what} />;
  }
  return (
    <>
      {state.error ? <ErrorNotice error={state.error} title={`Could not refresh ${what}; showing what was loaded before.`} /> : null}
      {children(state.data)}
    </>
  );
}
