/** Containers and Cloud Management: the Backup section as SPP has it, and a plain word that Census cannot inventory these yet. */
import { useEffect } from 'react';
import { BackupSection } from '../components/BackupSection';
import { PageHeader, Section } from '../components/Section';
import { InventoryJobProvider } from '../lib/inventoryJob';
import { Link } from '../lib/router';
import { PAGES } from '../lib/pages';

export function NotInventoriedPage({ title, what }: { title: string; what: string }) {
  useEffect(() => {
    document.title = `${title} · Census`;
  }, [title]);
  return (
    <InventoryJobProvider>
      <PageHeader title={title} kicker="Manage Protection" />
      <BackupSection what="instances, databases and file systems" />
      <Section title="Inventory" id="inventory">
        <div className="unsupported">
          <p className="unsupported-title">
            <span className="notice-icon" aria-hidden="true">i</span> Census cannot inventory {what} yet.
          </p>
          <p>
            The inventory job still runs from here for every registered server. Census inventories{' '}
            <Link to={PAGES.postgresql}>PostgreSQL</Link>, <Link to={PAGES.mysql}>MySQL/MariaDB</Link> and{' '}
            <Link to={PAGES.file}>Linux file systems</Link>.
          </p>
        </div>
      </Section>
    </InventoryJobProvider>
  );
}
