/**
 * The frame of every page after login: a top bar, the left navigation (a drawer at phone width)
 * and the main area. A skip link leads past the navigation. It holds the tab's one live event
 * stream (lib/events.ts) while someone is logged in.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { logout, sessionId, userName } from '../api/client';
import type { PermissionId } from '../api/types';
import type { MenuGroup } from '../lib/appTypes';
import { closeEvents, openEvents, useStreamState } from '../lib/events';
import { AlertsBell } from './AlertsBell';
import { useMe } from '../lib/me';
import { PAGES } from '../lib/pages';
import { Link, navigate, useLocation } from '../lib/router';

interface NavItem {
  to: string;
  label: string;
}

/**
 * System Configuration's pages, each shown to those who may see what it lists. API keys needs
 * nothing: every user manages their own keys (those with `apikey.manage` everyone's).
 */
const SYSTEM_PAGES: readonly { to: string; label: string; need: PermissionId | null }[] = [
  { to: PAGES.users, label: 'Users', need: 'user.view' },
  { to: PAGES.roles, label: 'Roles', need: 'role.view' },
  { to: PAGES.resourceGroups, label: 'Resource groups', need: 'resourcepool.view' },
  { to: PAGES.ldap, label: 'LDAP servers', need: 'ldap.view' },
  { to: PAGES.apiKeys, label: 'API keys', need: null },
  { to: PAGES.audit, label: 'Audit log', need: 'log.view' },
  { to: PAGES.smtp, label: 'E-mail (SMTP)', need: 'smtp.view' },
  { to: PAGES.recipients, label: 'Recipients', need: 'smtp.view' },
  { to: PAGES.webhooks, label: 'Webhooks', need: 'webhook.view' },
  { to: PAGES.deliveries, label: 'Delivery log', need: 'webhook.view' },
  // The settings are readable with alert.view, but a page of settings is for those who set them.
  { to: PAGES.alertSettings, label: 'Alert settings', need: 'alert.edit' },
];


function NavLink({ item, path, onNavigate }: { item: NavItem; path: string; onNavigate: () => void }) {
  const active = path === item.to || path.startsWith(item.to + '/');
  return (
    <li>
      <Link to={item.to} className={`nav-link${active ? ' active' : ''}`} aria-current={active ? 'page' : undefined} onClick={onNavigate}>
        {item.label}
      </Link>
    </li>
  );
}

export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="6" fill="#0f62fe" />
      <g fill="none" stroke="#fff" strokeWidth="2.2">
        <ellipse cx="16" cy="9" rx="8" ry="3" />
        <path d="M8 9v14c0 1.7 3.6 3 8 3s8-1.3 8-3V9" />
        <path d="M8 16c0 1.7 3.6 3 8 3s8-1.3 8-3" />
      </g>
    </svg>
  );
}

/**
 * A group with several application types is a heading over one link per type; a group with one
 * type, or none (a page saying Census cannot inventory it yet), is a single link.
 */
function NavGroup({ group, path, onNavigate }: { group: MenuGroup; path: string; onNavigate: () => void }) {
  if (group.apps.length <= 1) return <NavLink item={{ to: group.path, label: group.title }} path={path} onNavigate={onNavigate} />;
  const id = `nav-${group.id}`;
  return (
    <li>
      <span className="nav-group" id={id}>{group.title}</span>
      <ul className="nav-sublist" aria-labelledby={id}>
        {group.apps.map((a) => (
          <NavLink key={a.path} item={{ to: a.path, label: a.displayName }} path={path} onNavigate={onNavigate} />
        ))}
      </ul>
    </li>
  );
}

/** `groups` is undefined until the server said what it can inventory. */
export function Layout({ groups, children }: { groups: MenuGroup[] | undefined; children: ReactNode }) {
  const { path } = useLocation();
  const [open, setOpen] = useState(false);
  const { can, known } = useMe();
  const systemPages = known ? SYSTEM_PAGES.filter((p) => p.need === null || can(p.need)) : [];
  const close = () => setOpen(false);

  // After an in-app navigation (not the first page shown), put the keyboard focus on the new
  // page's heading, so a screen reader announces it and Tab continues from there.
  const shownPath = useRef(path);
  useEffect(() => {
    if (shownPath.current === path) return;
    shownPath.current = path;
    (document.getElementById('page-title') ?? document.getElementById('main'))?.focus();
  }, [path]);

  // One event stream for the tab, for as long as the logged-in frame is shown.
  const sid = sessionId();
  useEffect(() => {
    if (!sid) return;
    openEvents(sid);
    return () => closeEvents();
  }, [sid]);
  const events = useStreamState();

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);

  const onLogout = async () => {
    await logout();
    navigate('/login', { replace: true });
  };

  return (
    <div className={`shell${open ? ' nav-open' : ''}`} data-events={events}>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          aria-expanded={open}
          aria-controls="sidenav"
          onClick={() => setOpen((o) => !o)}
        >
          <span className="menu-icon" aria-hidden="true" />
          <span className="visually-hidden">{open ? 'Close navigation' : 'Open navigation'}</span>
        </button>
        <Link to="/" className="brand">
          <Logo />
          <span className="brand-name">Census</span>
          <span className="brand-tag">Inventory &amp; job control</span>
        </Link>
        <div className="topbar-user">
          {can('alert.view') && <AlertsBell />}
          <span className="user-name" title="Logged in as">
            <span className="visually-hidden">Logged in as </span>
            {userName() ?? ''}
          </span>
          <button type="button" className="btn btn-ghost" onClick={() => void onLogout()}>
            Log out
          </button>
        </div>
      </header>
      <div className="frame">
        <nav id="sidenav" className="sidenav" aria-label="Main">
          <p className="nav-heading" id="nav-manage">Manage Protection</p>
          <ul className="nav-list" aria-labelledby="nav-manage">
            {groups?.map((g) => (
              <NavGroup key={g.id} group={g} path={path} onNavigate={close} />
            ))}
          </ul>
          {systemPages.length > 0 && (
            <>
              <p className="nav-heading nav-heading-more" id="nav-system">System Configuration</p>
              <ul className="nav-list" aria-labelledby="nav-system">
                {systemPages.map((p) => (
                  <NavLink key={p.to} item={p} path={path} onNavigate={close} />
                ))}
              </ul>
            </>
          )}
          {(can('policy.view') || can('alert.view')) && (
            <ul className="nav-list nav-list-bottom">
              {can('policy.view') && <NavLink item={{ to: PAGES.jobs, label: 'Jobs and Operations' }} path={path} onNavigate={close} />}
              {can('alert.view') && <NavLink item={{ to: PAGES.alerts, label: 'Alerts' }} path={path} onNavigate={close} />}
            </ul>
          )}
        </nav>
        {open && <div className="scrim" aria-hidden="true" onClick={close} />}
        <main id="main" className="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
