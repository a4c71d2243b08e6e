/**
 * The pieces of the add/edit forms on the System Configuration pages: a titled form card with
 * its error and Save/Cancel buttons, labelled fields, and a set of checkboxes.
 */
import { useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from 'react';
import { messageOf } from '../api/client';

/** A form's refusal (the server's own words, or what the form checked), announced at once. */
export function FormError({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <div className="notice notice-danger form-error" role="alert">
      <span className="notice-icon" aria-hidden="true">✕</span>
      <div>{message}</div>
    </div>
  );
}

export interface FormCardProps {
  /** Makes the ids: `${id}-title` names the form. */
  id: string;
  title: string;
  error: string | null;
  busy: boolean;
  submitLabel: string;
  busyLabel?: string;
  /** Submit stays disabled (e.g. until the choices are loaded). */
  notReady?: boolean;
  onSubmit: () => void;
  onCancel: () => void;
  children: ReactNode;
}

export function FormCard({ id, title, error, busy, submitLabel, busyLabel = 'Saving…', notReady, onSubmit, onCancel, children }: FormCardProps) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };
  return (
    <form className="register-form" onSubmit={submit} noValidate aria-labelledby={`${id}-title`} data-form={id}>
      <h3 id={`${id}-title`}>{title}</h3>
      <FormError message={error} />
      {children}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy || notReady}>
          {busy ? busyLabel : submitLabel}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}

type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, 'id' | 'value' | 'onChange'>;

/** A labelled text input (any `type`), with an optional hint under it. */
export function TextField({ id, label, value, onChange, hint, wide, ...input }: InputProps & { id: string; label: string; value: string; onChange: (v: string) => void; hint?: ReactNode; wide?: boolean }) {
  return (
    <div className={`field${wide ? ' form-grid-wide' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <input id={id} value={value} onChange={(e) => onChange(e.target.value)} autoComplete="off" spellCheck={false} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && <p className="field-hint" id={`${id}-hint`}>{hint}</p>}
    </div>
  );
}

/** A labelled multi-line input. */
export function TextArea({ id, label, value, onChange, hint, rows = 4 }: { id: string; label: string; value: string; onChange: (v: string) => void; hint?: ReactNode; rows?: number }) {
  return (
    <div className="field form-grid-wide">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} className="mono" rows={rows} value={value} onChange={(e) => onChange(e.target.value)} spellCheck={false} aria-describedby={hint ? `${id}-hint` : undefined} />
      {hint && <p className="field-hint" id={`${id}-hint`}>{hint}</p>}
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
}

/** A labelled select, with an optional hint under it. */
export function SelectField({ id, label, value, onChange, options, inline, hint }: { id: string; label: string; value: string; onChange: (v: string) => void; options: readonly Option[]; inline?: boolean; hint?: ReactNode }) {
  return (
    <div className={`field${inline ? ' field-inline' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={hint ? `${id}-hint` : undefined}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {hint && <p className="field-hint" id={`${id}-hint`}>{hint}</p>}
    </div>
  );
}

/** A checkbox with its label after it. */
export function Checkbox({ checked, onChange, children }: { checked: boolean; onChange: (on: boolean) => void; children: ReactNode }) {
  return (
    <label className="checkbox">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> {children}
    </label>
  );
}

/** A set of chosen ids, for a list of checkboxes. */
export function useChecklist(initial: Iterable<string>): [ReadonlySet<string>, (id: string, on: boolean) => void] {
  const [chosen, setChosen] = useState<ReadonlySet<string>>(() => new Set(initial));
  const toggle = (id: string, on: boolean) =>
    setChosen((c) => {
      const n = new Set(c);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });
  return [chosen, toggle];
}

/**
 * A form's one request: `busy` while it runs, the refusal's words in `error`. `submit(fn)` runs
 * `fn` unless `check` (what the form checks itself) said what is wrong.
 */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (fn: () => Promise<void>, problem?: string | null) => {
    if (problem) return setError(problem);
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, submit };
}
