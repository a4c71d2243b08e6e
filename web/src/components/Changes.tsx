/** What an inventory run found changed: objects that appeared, disappeared or changed. */
import { get, query } from '../api/client';
import type { Change, Envelope } from '../api/types';
import { formatBytes, titleCase } from '../lib/format';
import { usePolled } from '../lib/usePolled';
import { Empty, Loaded } from './Feedback';
import { StatusBadge } from './Status';

const MAX_IDS_IN_FILTER = 200;

function value(field: string | null, v: string | null): string {
  if (v === null) return '—';
  if (field && /size|bytes/i.test(field) && /^\d+$/.test(v)) return formatBytes(Number(v));
  return v;
}

/** "Database", "Filesystem", "VM": how an object's kind reads (acronyms stay upper case). */
const objectWord = (type: string): string => (type.toLowerCase() === 'vm' ? 'VM' : titleCase(type));

/**
 * The changes of one session; with `appserverIds`, only those servers' (the page's application
 * type). `live` re-reads them every few seconds while the session runs.
 */
export function ChangesTable({ sessionId, appserverIds, kind, live, refreshKey }: { sessionId: string; appserverIds?: string[]; kind?: string; live?: boolean; refreshKey?: string }) {
  const ids = appserverIds ?? null;
  const state = usePolled(
    async (signal) => {
      const filter = ids && ids.length <= MAX_IDS_IN_FILTER ? [{ property: 'appserverId', value: ids, op: 'IN' }] : [];
      const env = await get<Envelope & { changes: Change[] }>(`/api/endeavour/jobsession/${sessionId}/change${query({ filter, pageSize: 500 })}`, signal);
      const wanted = ids ? new Set(ids) : null;
      const changes = wanted ? env.changes.filter((c) => wanted.has(c.appserverId)) : env.changes;
      return { changes, total: wanted && ids!.length > MAX_IDS_IN_FILTER ? changes.length : env.total };
    },
    `${sessionId}:${ids?.join(',') ?? '*'}`,
    () => (live ? 3_000 : null),
    `${refreshKey ?? ''}:${live ? 'live' : ''}`,
  );
  if (ids && ids.length === 0) return <Empty title={`No ${kind ?? 'servers'} are registered, so there are no changes to show.`} />;
  return (
    <Loaded state={state} what="the changes">
      {({ changes, total }) =>
        changes.length === 0 ? (
          <Empty title={live ? 'Nothing has changed so far.' : 'Nothing changed in this run.'}>
            <p>No {ids ? 'instance or object of these servers' : 'instance or object'} appeared, disappeared or changed.</p>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="table table-compact table-stack" aria-label="Changes">
              <thead>
                <tr>
                  <th scope="col">What</th>
                  <th scope="col">Change</th>
                  <th scope="col">Where</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {changes.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">
                      <span className="muted">{objectWord(c.objectType)}</span> <span className="mono">{c.objectName}</span>
                    </th>
                    <td data-label="Change">
                      <StatusBadge status={c.change} />
                    </td>
                    <td data-label="Where">{c.parentName ? <span className="mono">{c.parentName}</span> : <span className="muted">—</span>}</td>
                    <td data-label="Detail">
                      {c.field ? (
                        <>
                          {c.field}: <span className="mono">{value(c.field, c.oldValue)}</span> → <span className="mono">{value(c.field, c.newValue)}</span>
                        </>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {total > changes.length && <p className="muted">Showing {changes.length} of {total} changes.</p>}
          </div>
        )
      }
    </Loaded>
  );
}
