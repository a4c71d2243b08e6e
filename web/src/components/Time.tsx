import { formatTime, formatTimeWithZone, isoTime } from '../lib/format';

/** A time in the browser's zone; the full time with zone on hover. */
export function Time({ ms, zone = false }: { ms: number | null | undefined; zone?: boolean }) {
  if (ms === null || ms === undefined) return <span className="muted">—</span>;
  return (
    <time dateTime={isoTime(ms)} title={formatTimeWithZone(ms)}>
      {zone ? formatTimeWithZone(ms) : formatTime(ms)}
    </time>
  );
}
