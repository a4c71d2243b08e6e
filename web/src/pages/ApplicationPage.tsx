/** A Manage Protection page for one type Census inventories (the server's list of collectors names them). */
import { useEffect, useState } from 'react';
import { get, query } from '../api/client';
import type { AppServer, Envelope, Instance } from '../api/types';
import { BackupSection } from '../components/BackupSection';
import { AppServers } from '../components/AppServers';
import { ChangesTable } from '../components/Changes';
import { InventorySection } from '../components/Inventory';
import { PageHeader, Section } from '../components/Section';
import type { AppType } from '../lib/appTypes';
import { InventoryJobProvider, useInventoryJob } from '../lib/inventoryJob';
import { useMe } from '../lib/me';
import { Notice } from '../components/Feedback';
import { Link } from '../lib/router';
import { usePolled } from '../lib/usePolled';

export function ApplicationPage({ app }: { app: AppType }) {
  useEffect(() => {
    document.title = `${app.title} · Census`;
  }, [app.title]);
  return (
    <InventoryJobProvider>
      <PageHeader title={app.title} kicker={app.groupTitle ? `Manage Protection › ${app.groupTitle}` : 'Manage Protection'}>
        Register {app.servers}, run the inventory, and see what it found.
      </PageHeader>
      <BackupSection what={app.segment === 'filesystem' ? app.items : `instances and ${app.items}`} />
      <MaySeeServers app={app} />
    </InventoryJobProvider>
  );
}

/** The servers and what inventory found need appserver.view and application.view; the Backup section only policy.view. */
function MaySeeServers({ app }: { app: AppType }) {
  const { known, can } = useMe();
  if (!known) return null;
  if (can('appserver.view') && can('application.view')) return <ApplicationContent app={app} />;
  return (
    <Section title="Application servers" id="servers">
      <Notice tone="info">Your roles do not let you see the {app.servers} or what the inventory found on them.</Notice>
    </Section>
  );
}

function ApplicationContent({ app }: { app: AppType }) {
  const { job, inProgress } = useInventoryJob();
  const last = job.data?.lastrun;
  // Whatever the inventory found is re-read when a run starts or ends (here or anywhere else).
  const runKey = `${last?.sessionId ?? ''}:${inProgress ? 'running' : last?.status ?? ''}`;
  const [version, setVersion] = useState(0);

  const servers = usePolled(
    async (signal) => {
      const filter = [{ property: 'applicationType', value: app.type }];
      const env = await get<Envelope & { appservers: AppServer[] }>(`/api/appserver${query({ filter, sort: [{ property: 'name', direction: 'ASC' }], pageSize: 1000 })}`, signal);
      return env.appservers;
    },
    `servers:${app.type}`,
    () => 15_000,
    `${version}:${runKey}`,
  );
  const instances = usePolled(
    (signal) => get<Envelope & { instances: Instance[] }>(`/api/application/${app.type}/instance${query({ sort: [{ property: 'name', direction: 'ASC' }], pageSize: 500 })}`, signal),
    `instances:${app.type}`,
    () => 15_000,
    `${version}:${runKey}`,
  );
  const serverIds = servers.data?.map((s) => s.id);

  return (
    <>
      <AppServers
        app={app}
        servers={servers}
        onChanged={(started) => {
          setVersion((v) => v + 1);
          if (started) job.refresh();
        }}
      />
      <InventorySection app={app} instances={instances} servers={servers.data} refreshKey={`${version}:${runKey}`} />
      <Section
        title={inProgress ? 'Changes in the running inventory' : 'Changes in the last inventory'}
        id="changes"
        description={
          last ? (
            <>
              What session <Link to={`/jobs/sessions/${last.sessionId}`}>{last.sessionId}</Link> found new, gone or changed on these servers.
            </>
          ) : undefined
        }
      >
        {!last ? (
          <p className="muted">The inventory has not run yet.</p>
        ) : serverIds === undefined ? (
          <p className="muted">Loading…</p>
        ) : (
          <ChangesTable sessionId={last.sessionId} appserverIds={serverIds} kind={app.servers} live={inProgress} refreshKey={runKey} />
        )}
      </Section>
    </>
  );
}
