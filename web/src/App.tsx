/** Which page the address names, and the login gate in front of all but the login page. */
import { useEffect } from 'react';
import { loginPath, sessionId } from './api/client';
import { Layout } from './components/Layout';
import { PAGES } from './lib/pages';
import { APP_TYPES } from './lib/appTypes';
import { navigate, useLocation } from './lib/router';
import { ApplicationPage } from './pages/ApplicationPage';
import { JobsPage } from './pages/JobsPage';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { NotInventoriedPage } from './pages/NotInventoriedPage';
import { SessionPage } from './pages/SessionPage';

function Page({ path }: { path: string }) {
  switch (path) {
    case PAGES.postgresql:
      return <ApplicationPage key="postgresql" app={APP_TYPES.postgresql} />;
    case PAGES.mysql:
      return <ApplicationPage key="mysql" app={APP_TYPES.mysql} />;
    case PAGES.file:
      return <ApplicationPage key="file" app={APP_TYPES.file} />;
    case PAGES.containers:
      return <NotInventoriedPage key="containers" title="Containers" what="containers" />;
    case PAGES.cloud:
      return <NotInventoriedPage key="cloud" title="Cloud Management" what="cloud resources" />;
    case PAGES.jobs:
      return <JobsPage />;
  }
  const session = /^\/jobs\/sessions\/([^/]+)$/.exec(path);
  if (session) return <SessionPage key={session[1]} id={decodeURIComponent(session[1]!)} />;
  return <NotFoundPage />;
}

export function App() {
  const { path, href } = useLocation();
  const loggedIn = sessionId() !== null;
  const redirect = path === '/' ? PAGES.postgresql : path === '/manage-protection' || path === '/manage-protection/databases' ? PAGES.postgresql : null;

  useEffect(() => {
    if (path === '/login') return;
    if (!loggedIn) navigate(loginPath(href), { replace: true });
    else if (redirect) navigate(redirect, { replace: true });
  }, [path, href, loggedIn, redirect]);

  if (path === '/login') return <LoginPage />;
  if (!loggedIn || redirect) return null;
  return (
    <Layout>
      <Page path={path} />
    </Layout>
  );
}
