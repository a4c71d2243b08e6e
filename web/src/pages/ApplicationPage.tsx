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

/** Servers and instances per page (read from the server a page at a time). */
const SERVER_PAGE_SIZE = 50;
const INSTANCE_PAGE_SIZE = 25;

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

  // Both lists page on the server: an estate of 10,000 servers is read one page at a time.
  const [serverPage, setServerPage] = useState(1);
  const [instancePage, setInstancePage] = useState(1);
  const servers = usePolled(
    async (signal) => {
      const filter = [{ property: 'applicationType', value: app.type }];
      const q = query({ filter, sort: [{ property: 'name', direction: 'ASC' }], pageSize: SERVER_PAGE_SIZE, pageStartIndex: (serverPage - 1) * SERVER_PAGE_SIZE });
      const env = await get<Envelope & { appservers: AppServer[] }>(`/api/appserver${q}`, signal);
      return { items: env.appservers, total: env.total };
    },
    `servers:${app.type}:${serverPage}`,
    () => 15_000,
    `${version}:${runKey}`,
  );
  const instances = usePolled(
    (signal) => get<Envelope & { instances: Instance[] }>(`/api/application/${app.type}/instance${query({ sort: [{ property: 'name', direction: 'ASC' }], pageSize: INSTANCE_PAGE_SIZE, pageStartIndex: (instancePage - 1) * INSTANCE_PAGE_SIZE })}`, signal),
    `instances:${app.type}:${instancePage}`,
    () => 15_000,
    `${version}:${runKey}`,
  );
  // The servers of the instances shown (by id: they need not be on the servers' page).
  const instanceServerIds = [...new Set(instances.data?.instances.map((i) => i.appserverId) ?? [])].sort();
  const instanceServers = usePolled(
    async (signal) => {
      if (!instanceServerIds.length) return [] as AppServer[];
      const filter = [{ property: 'id', value: instanceServerIds, op: 'IN' }];
      return (await get<Envelope & { appservers: AppServer[] }>(`/api/appserver${query({ filter, pageSize: instanceServerIds.length })}`, signal)).appservers;
    },
    `instance-servers:${instanceServerIds.join(',')}`,
  );
  // The changes are those of this type's servers when they all fit one page; beyond, of the whole session.
  const serverIds = servers.data === undefined ? undefined : servers.data.total <= servers.data.items.length ? servers.data.items.map((s) => s.id) : null;

  return (
    <>
      <AppServers
        app={app}
        servers={servers}
        page={serverPage}
        pageSize={SERVER_PAGE_SIZE}
        onPage={setServerPage}
        onChanged={(started) => {
          setVersion((v) => v + 1);
          if (started) job.refresh();
        }}
      />
      <InventorySection app={app} instances={instances} servers={instanceServers.data} refreshKey={`${version}:${runKey}`} page={instancePage} pageSize={INSTANCE_PAGE_SIZE} onPage={setInstancePage} />
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
          <ChangesTable sessionId={last.sessionId} appserverIds={serverIds ?? undefined} kind={app.servers} live={inProgress} refreshKey={runKey} />
        )}
      </Section>
    </>
  );
}
