/**
 * The alerts bell in the top bar: the number of ACTIVE alerts, a link to the Alerts page. Shown
 * to users with `alert.view`; the count is kept current by lib/alerts.ts.
 */
import { useActiveAlertCount } from '../lib/alerts';
import { PAGES } from '../lib/pages';
import { Link } from '../lib/router';

export function AlertsBell() {
  const count = useActiveAlertCount(true);
  const n = count.data ?? null;
  const label = n === null ? 'Alerts' : n === 0 ? 'Alerts: none active' : `Alerts: ${n} active`;
  return (
    <Link to={`${PAGES.alerts}`} className={`bell${n ? ' bell-on' : ''}`} aria-label={label} title={label} data-count={n === null ? '' : String(n)}>
      <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
        <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z" fill="currentColor" />
      </svg>
      {n !== null && n > 0 && (
        <span className="bell-count" aria-hidden="true">
          {n > 99 ? '99+' : n}
        </span>
      )}
    </Link>
  );
}
