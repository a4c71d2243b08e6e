/**
 * What the server can inventory, from GET /api/census/collector: the client keeps no list of its
 * own, so a server with a new collector works with this client unchanged.
 */
import { UsageError } from './errors.ts';
import type { Api, Json } from './http.ts';

export async function collectorList(api: Api): Promise<Json[]> {
  return api.list('/api/census/collector', 'collectors');
}

/** The collector of `type` (lower-cased), or a usage error naming the types the server has. */
export function collectorOf(list: Json[], type: string, usage: string): Json {
  const wanted = type.toLowerCase();
  const found = list.find((c) => c?.type === wanted);
  if (!found) {
    throw new UsageError(`--type must be one of ${list.map((c) => c?.type).join(', ')} (what this server can inventory; census appserver types)`, usage);
  }
  return found;
}

/** Where an instance's children are listed: file systems under /filesystem, anything else under /database. */
export function childrenOf(collector: Json): { segment: 'database' | 'filesystem'; key: 'databases' | 'filesystems' } {
  return collector?.childTypes?.[0] === 'filesystem' ? { segment: 'filesystem', key: 'filesystems' } : { segment: 'database', key: 'databases' };
}
