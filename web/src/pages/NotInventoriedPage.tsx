/** A Manage Protection group without a collector: the Backup section as SPP has it, and a plain word that Census cannot inventory these yet. */
import { Fragment, useEffect } from 'react';
import { BackupSection } from '../components/BackupSection';
import { PageHeader, Section } from '../components/Section';
import { allApps } from '../lib/appTypes';
import { useCollectors } from '../lib/collectors';
import { InventoryJobProvider } from '../lib/inventoryJob';
import { Link } from '../lib/router';

export function NotInventoriedPage({ title, what }: { title: string; what: string }) {
  useEffect(() => {
    document.title = `${title} · Census`;
  }, [title]);
  const apps = allApps(useCollectors().groups ?? []);
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
            The inventory job still runs from here for every registered server.
            {apps.length > 0 && (
              <>
                {' '}Census inventories{' '}
                {apps.map((a, n) => (
                  <Fragment key={a.type}>
                    {n > 0 && (n === apps.length - 1 ? ' and ' : ', ')}
                    <Link to={a.path}>{a.displayName}</Link>
                  </Fragment>
                ))}
                .
              </>
            )}
          </p>
        </div>
      </Section>
    </InventoryJobProvider>
  );
}
