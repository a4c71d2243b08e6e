/**
 * What the last inventory found for one application type: its instances (version, host, port,
 * readiness warnings, last seen) and, per instance, its databases or file systems.
 */
import { useState } from 'react';
import { get, query } from '../api/client';
import type { AppServer, Database, Envelope, Finding, Instance } from '../api/types';
import type { AppType } from '../lib/appTypes';
import { formatBytes, plural } from '../lib/format';
import type { Polled } from '../lib/usePolled';
import { usePolled } from '../lib/usePolled';
import { Empty, Loaded } from './Feedback';
import { Pager } from './ResourceTable';
import { Section } from './Section';
import { StatusBadge } from './Status';
import { Time } from './Time';

/** `instances`: one page of them (`page` counts from 1); `servers`: the servers of those instances. */
export function InventorySection({ app, instances, servers, refreshKey, page, pageSize, onPage }: {
  app: AppType; instances: Polled<Envelope & { instances: Instance[] }>; servers: AppServer[] | undefined; refreshKey: string; page: number; pageSize: number; onPage: (page: number) => void;
}) {
  const byId = new Map((servers ?? []).map((s) => [s.id, s]));
  return (
    <Section title="Inventory" id="inventory" description={`Instances and ${app.items} the last inventory found.`}>
      <Loaded state={instances} what="the inventory">
        {(env) =>
          env.instances.length === 0 && env.total === 0 ? (
            <Empty title={`No ${app.instances} have been inventoried yet.`}>
              <p>Register a server, then run the inventory: what it finds is listed here.</p>
            </Empty>
          ) : (
            <>
              <div className="instances">
                {env.instances.map((i) => (
                  <InstanceCard key={i.id} app={app} instance={i} server={byId.get(i.appserverId)} serversKnown={servers !== undefined} refreshKey={refreshKey} open={env.instances.length <= 3} />
                ))}
              </div>
              {env.total > pageSize && <Pager label="Instance pages" page={page} pageSize={pageSize} total={env.total} onPage={onPage} />}
            </>
          )
        }
      </Loaded>
    </Section>
  );
}

function Findings({ findings, label }: { findings: Finding[] | undefined; label: string }) {
  if (!findings?.length) return null;
  return (
    <div className="findings" role="group" aria-label={label}>
      <p className="findings-title">
        <span className="notice-icon" aria-hidden="true">!</span> {plural(findings.length, 'readiness warning')}
      </p>
      <ul>
        {findings.map((f, n) => (
          <li key={`${f.code}-${n}`}>
            {f.message} <span className="code">{f.code}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function InstanceCard({ app, instance: i, server, serversKnown, refreshKey, open: initiallyOpen }: { app: AppType; instance: Instance; server: AppServer | undefined; serversKnown: boolean; refreshKey: string; open: boolean }) {
  const [open, setOpen] = useState(initiallyOpen);
  const title = `${i.name}`;
  return (
    <details className="instance" open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>
        <span className="instance-title">
          <span className="instance-name">{title}</span>
          {i.version && <span className="tag">{app.segment === 'filesystem' ? i.version : `${app.displayName} ${i.version}`}</span>}
          {i.missing ? <StatusBadge status="MISSING" label="Not found in the last run" /> : null}
          {i.findings?.length ? <StatusBadge status="WARNING" label={plural(i.findings.length, 'warning')} /> : null}
        </span>
        <span className="instance-meta">
          Server {server ? <strong>{server.name}</strong> : serversKnown ? <em>no longer registered</em> : i.appserverId} · host <span className="mono">{i.host}</span>
          {i.port !== null && <> · port {i.port}</>} · last seen <Time ms={i.lastSeen} />
        </span>
      </summary>
      <div className="instance-body">
        <Findings findings={i.findings} label={`Readiness warnings of ${title}`} />
        {open && <ItemsTable app={app} instance={i} refreshKey={refreshKey} />}
      </div>
    </details>
  );
}

function ItemsTable({ app, instance, refreshKey }: { app: AppType; instance: Instance; refreshKey: string }) {
  const href = instance.links.databases?.href ?? `/api/application/${app.type}/instance/${instance.id}/${app.segment}`;
  const items = usePolled(
    async (signal) => {
      const env = await get<Envelope & { databases?: Database[]; filesystems?: Database[] }>(`${href.split('?')[0]}${query({ pageSize: 1000 })}`, signal);
      return { total: env.total, items: env.databases ?? env.filesystems ?? [] };
    },
    instance.id,
    () => null,
    refreshKey,
  );
  return (
    <Loaded state={items} what={app.items}>
      {({ items: list, total }) =>
        list.length === 0 ? (
          <Empty title={`No ${app.items} were found on this instance.`} />
        ) : (
          <div className="table-wrap">
            <table className="table table-compact table-stack" aria-label={`${app.items} of ${instance.name}`}>
              <caption className="visually-hidden">{`${app.items} of ${instance.name}`}</caption>
              <thead>
                {app.segment === 'filesystem' ? (
                  <tr>
                    <th scope="col">Mount point</th>
                    <th scope="col">Type</th>
                    <th scope="col">Device</th>
                    <th scope="col" className="num">Size</th>
                    <th scope="col" className="num">Used</th>
                    <th scope="col">State</th>
                    <th scope="col">Warnings</th>
                  </tr>
                ) : (
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col" className="num">Size</th>
                    <th scope="col">Owner</th>
                    <th scope="col">Encoding</th>
                    <th scope="col">Last seen</th>
                    <th scope="col">State</th>
                    <th scope="col">Warnings</th>
                  </tr>
                )}
              </thead>
              <tbody>
                {list.map((d) => (
                  <tr key={d.id} className={d.missing ? 'row-missing' : undefined}>
                    <th scope="row" className="mono">{d.name}</th>
                    {app.segment === 'filesystem' ? <FileCells d={d} /> : (
                      <>
                        <td className="num" data-label="Size">{formatBytes(d.sizeBytes ?? d.size)}</td>
                        <td data-label="Owner">{d.owner ?? '—'}</td>
                        <td data-label="Encoding">{d.encoding ?? '—'}</td>
                        <td data-label="Last seen"><Time ms={d.lastSeen} /></td>
                      </>
                    )}
                    <td data-label="State">{d.missing ? <StatusBadge status="MISSING" label="Missing" /> : <StatusBadge status="PRESENT" label="Present" />}</td>
                    <td data-label="Warnings">
                      {d.findings?.length ? (
                        <ul className="cell-list">
                          {d.findings.map((f, n) => (
                            <li key={n} title={f.code}>
                              <span className="warn-dot" aria-hidden="true">!</span> {f.message}
                            </li>
                          ))}
                        </ul>
                      ) : (
                        <span className="muted">None</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {total > list.length && <p className="muted">Showing {list.length} of {total}.</p>}
          </div>
        )
      }
    </Loaded>
  );
}

function FileCells({ d }: { d: Database }) {
  const p = d.properties ?? {};
  const used = typeof p.usedBytes === 'number' ? p.usedBytes : null;
  const pct = typeof p.usePercent === 'number' ? p.usePercent : null;
  return (
    <>
      <td data-label="Type">{typeof p.type === 'string' ? p.type : '—'}{p.readOnly === true ? <span className="tag tag-small">read-only</span> : null}</td>
      <td className="mono" data-label="Device">{typeof p.device === 'string' ? p.device : '—'}</td>
      <td className="num" data-label="Size">{formatBytes(d.sizeBytes ?? d.size)}</td>
      <td className="num" data-label="Used">{used === null ? '—' : `${formatBytes(used)}${pct === null ? '' : ` (${pct}%)`}`}</td>
    </>
  );
}
