/** Status as colour AND word (and a shape for those who see neither colour well). */
import { titleCase } from '../lib/format';

export type Tone = 'success' | 'danger' | 'warning' | 'running' | 'neutral' | 'info';

const TONES: Record<string, Tone> = {
  COMPLETED: 'success', SUCCESS: 'success', PRESENT: 'success',
  FAILED: 'danger', ERROR: 'danger',
  PARTIAL: 'warning', WARNING: 'warning', WARN: 'warning', HELD: 'warning', CANCELLING: 'warning', CANCELING: 'warning', MISSING: 'warning',
  RUNNING: 'running', STARTING: 'running',
  SUMMARY: 'info', APPEARED: 'info', REAPPEARED: 'info', CHANGED: 'info', DISAPPEARED: 'warning',
};

const GLYPHS: Record<Tone, string> = { success: '✓', danger: '✕', warning: '!', running: '', neutral: '–', info: 'i' };

export const toneOf = (status: string): Tone => TONES[status.toUpperCase()] ?? 'neutral';

export function StatusBadge({ status, label, tone }: { status: string; label?: string; tone?: Tone }) {
  const t = tone ?? toneOf(status);
  return (
    <span className={`badge badge-${t}`} data-status={status.toUpperCase()}>
      <span className="badge-icon" aria-hidden="true">{GLYPHS[t]}</span>
      {label ?? titleCase(status)}
    </span>
  );
}

export function ProgressBar({ percent, status }: { percent: number; status: string }) {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  return (
    <span className="progress">
      <span className={`progress-track progress-${toneOf(status)}`} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={p} aria-label="Progress">
        <span className="progress-fill" style={{ width: `${p}%` }} />
      </span>
      <span className="progress-text">{p}%</span>
    </span>
  );
}

/** Built-in (cannot change) or custom: roles and resource groups. */
export function TypeBadge({ type }: { type: string }) {
  const builtIn = type === 'BUILTIN';
  return <StatusBadge status={type} tone={builtIn ? 'neutral' : 'info'} label={builtIn ? 'Built-in' : 'Custom'} />;
}
