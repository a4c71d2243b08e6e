import { useEffect } from 'react';
import { PageHeader } from '../components/Section';
import { allApps } from '../lib/appTypes';
import { useCollectors } from '../lib/collectors';
import { Link } from '../lib/router';
import { PAGES } from '../lib/pages';

export function NotFoundPage() {
  useEffect(() => {
    document.title = 'Not found · Census';
  }, []);
  const first = allApps(useCollectors().groups ?? [])[0];
  return (
    <>
      <PageHeader title="There is no such page">
        The address does not name a page of Census. Go to{' '}
        {first && (
          <>
            <Link to={first.path}>{first.displayName}</Link> or{' '}
          </>
        )}
        <Link to={PAGES.jobs}>Jobs and Operations</Link>.
      </PageHeader>
    </>
  );
}
