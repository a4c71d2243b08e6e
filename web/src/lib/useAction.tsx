/**
 * A page's row actions (disable, delete, revoke, test, …): one at a time, with what happened
 * said above the list — the server's refusal as it words it, or what was done.
 */
import { useState, type ReactElement, type ReactNode } from 'react';
import { del } from '../api/client';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice, Notice } from '../components/Feedback';

export interface Action {
  /** Which action runs (e.g. `12:delete`); null when none. */
  busy: string | null;
  /** Runs `fn`; on success says `said` and calls `then`. Resolves whether it worked. */
  run: (what: string, fn: () => Promise<unknown>, said: string, then?: () => void) => Promise<boolean>;
  /** Says something was done (e.g. a form saved), clearing an older error. */
  say: (done: string | null) => void;
  /** The success or the error, for above the list. */
  notices: ReactElement;
}

export function useAction(): Action {
  const [busy, setBusy] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const run: Action['run'] = async (what, fn, said, then) => {
    setBusy(what);
    setError(null);
    setDone(null);
    try {
      await fn();
      setDone(said);
      then?.();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(null);
    }
  };
  const say = (d: string | null) => {
    setDone(d);
    setError(null);
  };
  const notices = (
    <>
      {done && <Notice tone="success">{done}</Notice>}
      {error ? <ErrorNotice error={error} /> : null}
    </>
  );
  return { busy, run, say, notices };
}

/**
 * Delete with a confirmation: `ask(row)` opens the dialog; Delete runs the DELETE through the
 * page's action (its refusal shows above the list) and closes it either way.
 */
export function useDelete<T extends { id: string; name: string }>(action: Action, o: { noun: string; path: (row: T) => string; then: (row: T) => void; why: ReactNode }) {
  const [removing, setRemoving] = useState<T | null>(null);
  const title = `Delete ${o.noun ? `${o.noun} ` : ''}${removing?.name ?? ''}`;
  const dialog = removing && (
    <ConfirmDialog
      title={`${title}?`}
      confirmLabel="Delete"
      danger
      busy={action.busy !== null}
      onCancel={() => setRemoving(null)}
      onConfirm={() => void action.run(`${removing.id}:delete`, () => del(o.path(removing)), `Deleted ${o.noun ? `${o.noun} ` : ''}${removing.name}.`, () => o.then(removing)).then(() => setRemoving(null))}
    >
      <p>{o.why}</p>
    </ConfirmDialog>
  );
  return { ask: setRemoving, dialog };
}
