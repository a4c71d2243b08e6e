/** Which page the address names, and the login gate in front of all but the login page. */
import { useEffect } from 'react';
import { loginPath, sessionId } from './api/client';
import { Layout } from './components/Layout';
import { allApps, type MenuGroup } from './lib/appTypes';
import { CollectorsProvider, useCollectors } from './lib/collectors';
import { MeProvider } from './lib/me';
import { groupPath, PAGES } from './lib/pages';
import { navigate, useLocation } from './lib/router';
import { AlertSettingsPage } from './pages/AlertSettingsPage';
import { AlertsPage } from './pages/AlertsPage';
import { ApiKeysPage } from './pages/ApiKeysPage';
import { ApplicationPage } from './pages/ApplicationPage';
import { AuditPage } from './pages/AuditPage';
import { DeliveriesPage } from './pages/DeliveriesPage';
import { HypervisorPage } from './pages/HypervisorPage';
import { JobsPage } from './pages/JobsPage';
import { LdapPage } from './pages/LdapPage';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { NotInventoriedPage } from './pages/NotInventoriedPage';
import { Allowed } from './pages/NotAllowedPage';
import { RecipientsPage } from './pages/RecipientsPage';
import { ResourceGroupsPage } from './pages/ResourceGroupsPage';
import { RolesPage } from './pages/RolesPage';
import { SmtpPage } from './pages/SmtpPage';
import { UsersPage } from './pages/UsersPage';
import { WebhooksPage } from './pages/WebhooksPage';
import { SessionPage } from './pages/SessionPage';

/** Manage Protection pages: one per application (or hypervisor) type, and one per group Census cannot inventory. */
function ManageProtectionPage({ path, groups }: { path: string; groups: MenuGroup[] }) {
  const app = allApps(groups).find((a) => a.path === path);
  if (app) return app.group === 'hypervisors' ? <HypervisorPage key={app.type} app={app} /> : <ApplicationPage key={app.type} app={app} />;
  const empty = groups.find((g) => g.apps.length === 0 && groupPath(g.id) === path);
  if (empty) return <NotInventoriedPage key={empty.id} title={empty.title} what={empty.what} />;
  return <NotFoundPage />;
}

function Page({ path, groups, error }: { path: string; groups: MenuGroup[] | undefined; error: unknown }) {
  if (path === PAGES.jobs) return <Allowed need="policy.view" title="Jobs and Operations"><JobsPage /></Allowed>;
  if (path === PAGES.users) return <Allowed need="user.view" title="Users"><UsersPage /></Allowed>;
  if (path === PAGES.roles) return <Allowed need="role.view" title="Roles"><RolesPage /></Allowed>;
  if (path === PAGES.resourceGroups) return <Allowed need="resourcepool.view" title="Resource groups"><ResourceGroupsPage /></Allowed>;
  if (path === PAGES.apiKeys) return <Allowed need={null} title="API keys"><ApiKeysPage /></Allowed>;
  if (path === PAGES.ldap) return <Allowed need="ldap.view" title="LDAP servers"><LdapPage /></Allowed>;
  if (path === PAGES.audit) return <Allowed need="log.view" title="Audit log"><AuditPage /></Allowed>;
  if (path === PAGES.alerts) return <Allowed need="alert.view" title="Alerts"><AlertsPage /></Allowed>;
  if (path === PAGES.smtp) return <Allowed need="smtp.view" title="E-mail (SMTP)"><SmtpPage /></Allowed>;
  if (path === PAGES.recipients) return <Allowed need="smtp.view" title="Recipients"><RecipientsPage /></Allowed>;
  if (path === PAGES.webhooks) return <Allowed need="webhook.view" title="Webhooks"><WebhooksPage /></Allowed>;
  if (path === PAGES.deliveries) return <Allowed need="webhook.view" title="Delivery log"><DeliveriesPage /></Allowed>;
  if (path === PAGES.alertSettings) return <Allowed need="alert.edit" title="Alert settings"><AlertSettingsPage /></Allowed>;
  const session = /^\/jobs\/sessions\/([^/]+)$/.exec(path);
  if (session) return <SessionPage key={session[1]} id={decodeURIComponent(session[1]!)} />;
  const managed = path === '/' || path === PAGES.manageProtection || path.startsWith(`${PAGES.manageProtection}/`);
  if (!managed) return <NotFoundPage />;
  if (groups) return <ManageProtectionPage path={path} groups={groups} />;
  return error ? (
    <p className="notice notice-danger" role="alert">
      Census could not read what it can inventory. Reload the page to try again.
    </p>
  ) : (
    <p className="muted">Loading…</p>
  );
}

/** Where an address that names no page of its own leads: the first type's page, or a group's first type. */
function redirectOf(path: string, groups: MenuGroup[] | undefined): string | null | 'wait' {
  if (path === '/' || path === PAGES.manageProtection) {
    if (!groups) return 'wait';
    return allApps(groups)[0]?.path ?? PAGES.jobs;
  }
  const group = groups?.find((g) => g.apps.length > 0 && groupPath(g.id) === path);
  return group ? group.apps[0]!.path : null;
}

function Gate() {
  const { path, href } = useLocation();
  const loggedIn = sessionId() !== null;
  const { groups, error } = useCollectors();
  const redirect = redirectOf(path, groups);

  useEffect(() => {
    if (path === '/login') return;
    if (!loggedIn) navigate(loginPath(href), { replace: true });
    else if (redirect && redirect !== 'wait') navigate(redirect, { replace: true });
  }, [path, href, loggedIn, redirect]);

  if (path === '/login') return <LoginPage />;
  if (!loggedIn || (redirect && !(redirect === 'wait' && error))) return null;
  return (
    <Layout groups={groups}>
      <Page path={path} groups={groups} error={error} />
    </Layout>
  );
}

export function App() {
  const loggedIn = sessionId() !== null;
  const { path } = useLocation();
  return (
    <MeProvider enabled={loggedIn && path !== '/login'}>
      <CollectorsProvider enabled={loggedIn && path !== '/login'}>
        <Gate />
      </CollectorsProvider>
    </MeProvider>
  );
}
