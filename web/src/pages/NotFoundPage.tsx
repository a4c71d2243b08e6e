import { useEffect } from 'react';
import { PageHeader } from '../components/Section';
import { Link } from '../lib/router';
import { PAGES } from '../lib/pages';

export function NotFoundPage() {
  useEffect(() => {
    document.title = 'Not found · Census';
  }, []);
  return (
    <>
      <PageHeader title="There is no such page">
        The address does not name a page of Census. Go to <Link to={PAGES.postgresql}>PostgreSQL</Link> or{' '}
        <Link to={PAGES.jobs}>Jobs and Operations</Link>.
      </PageHeader>
    </>
  );
}
