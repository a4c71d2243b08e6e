/**
 * What one Redis server is, from INFO and CONFIG GET: version, mode, replication, persistence,
 * memory, its keyspaces (one child per logical database that holds keys), and the readiness
 * findings that follow from those. Pure functions over the server's text, so each rule can be
 * read (and tested) apart from the connection.
 */

import type { CollectedDatabase, ReadinessFinding } from '../types.ts';

/** INFO's "field:value" lines; section headers ("# Server") and blank lines are skipped. Field names are unique across sections. */
export type Info = ReadonlyMap<string, string>;

export function parseInfo(text: string): Info {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** "keys=3,expires=1,avg_ttl=5000": the comma-separated pairs of a keyspace or replica line. */
function parsePairs(value: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) pairs.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return pairs;
}

/** A numeric INFO value, or null when absent or not a number. */
export function infoNumber(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The settings read with CONFIG GET; null where CONFIG is renamed, disabled or not allowed. */
export interface ConfigSettings {
  /** RDB snapshot rules, e.g. "3600 1 300 100"; "" when snapshots are off. */
  save: string;
  protectedMode: string;
  dir: string;
  dbFilename: string;
  appendFsync: string;
}

export const CONFIG_PARAMETERS: Record<keyof ConfigSettings, string> = {
  save: 'save',
  protectedMode: 'protected-mode',
  dir: 'dir',
  dbFilename: 'dbfilename',
  appendFsync: 'appendfsync',
};

export type Mode = 'standalone' | 'replica' | 'cluster' | 'sentinel';

/** Cluster beats role (a cluster node can be a replica); a sentinel is no data store but is reported as what it is. */
export function modeOf(info: Info): Mode {
  if (info.get('redis_mode') === 'cluster' || info.get('cluster_enabled') === '1') return 'cluster';
  if (info.get('redis_mode') === 'sentinel') return 'sentinel';
  return roleOf(info) === 'replica' ? 'replica' : 'standalone';
}

/** Redis says "slave"; we say replica, as Redis's own documentation now does. */
export function roleOf(info: Info): 'master' | 'replica' | null {
  const role = info.get('role');
  if (role === 'master') return 'master';
  if (role === 'slave' || role === 'replica') return 'replica';
  return null;
}

export interface ReplicaLink {
  address: string;
  state: string | null;
  offset: number | null;
  lagSeconds: number | null;
}

/** A master's "slave0:ip=...,port=...,state=online,offset=...,lag=0" lines. */
function connectedReplicas(info: Info): ReplicaLink[] {
  const replicas: ReplicaLink[] = [];
  for (const [field, value] of info) {
    if (!/^slave\d+$/.test(field)) continue;
    const pairs = parsePairs(value);
    replicas.push({
      address: `${pairs.get('ip') ?? '?'}:${pairs.get('port') ?? '?'}`,
      state: pairs.get('state') ?? null,
      offset: infoNumber(pairs.get('offset')),
      lagSeconds: infoNumber(pairs.get('lag')),
    });
  }
  return replicas;
}

/** Replication as seen from this server: its replicas if it is a master, its master's link if it is a replica. */
export function replicationProperties(info: Info): Record<string, unknown> {
  if (roleOf(info) === 'replica') {
    return {
      masterAddress: `${info.get('master_host') ?? '?'}:${info.get('master_port') ?? '?'}`,
      masterLinkStatus: info.get('master_link_status') ?? null,
      masterLastIoSecondsAgo: infoNumber(info.get('master_last_io_seconds_ago')),
      masterLinkDownSinceSeconds: infoNumber(info.get('master_link_down_since_seconds')),
      syncInProgress: info.get('master_sync_in_progress') === '1',
      replicaOffset: infoNumber(info.get('slave_repl_offset')),
    };
  }
  return { connectedReplicas: infoNumber(info.get('connected_slaves')) ?? 0, replicas: connectedReplicas(info) };
}

/** RDB and AOF as configured and as they last went. `config` is null when CONFIG GET was not possible. */
export function persistenceProperties(info: Info, config: Partial<ConfigSettings> | null): Record<string, unknown> {
  const lastSave = infoNumber(info.get('rdb_last_save_time'));
  return {
    rdb: {
      // null: not known (CONFIG not readable); "" : snapshots off.
      saveRules: config?.save ?? null,
      lastSaveTime: lastSave === null ? null : new Date(lastSave * 1000).toISOString(),
      lastBgsaveStatus: info.get('rdb_last_bgsave_status') ?? null,
      changesSinceLastSave: infoNumber(info.get('rdb_changes_since_last_save')),
      dir: config?.dir ?? null,
      fileName: config?.dbFilename ?? null,
    },
    aof: {
      enabled: info.get('aof_enabled') === '1',
      lastWriteStatus: info.get('aof_last_write_status') ?? null,
      lastRewriteStatus: info.get('aof_last_bgrewrite_status') ?? null,
      fsync: config?.appendFsync ?? null,
    },
  };
}

export function memoryProperties(info: Info): Record<string, unknown> {
  return {
    usedBytes: infoNumber(info.get('used_memory')),
    peakBytes: infoNumber(info.get('used_memory_peak')),
    // INFO has carried maxmemory and its policy since 3.2, so CONFIG GET is not needed for them.
    maxBytes: infoNumber(info.get('maxmemory')),
    maxmemoryPolicy: info.get('maxmemory_policy') ?? null,
  };
}

/** One child per "dbN:keys=..,expires=..,avg_ttl=.." line; Redis lists only databases that hold keys. */
export function keyspaces(info: Info): CollectedDatabase[] {
  const result: CollectedDatabase[] = [];
  for (const [field, value] of info) {
    const match = /^db(\d+)$/.exec(field);
    if (!match) continue;
    const pairs = parsePairs(value);
    result.push({
      name: field,
      sizeBytes: null, // Redis does not account memory per database
      owner: null,
      encoding: null,
      properties: {
        index: Number(match[1]),
        keys: infoNumber(pairs.get('keys')) ?? 0,
        expires: infoNumber(pairs.get('expires')) ?? 0,
        avgTtlMs: infoNumber(pairs.get('avg_ttl')) ?? 0,
      },
    });
  }
  return result.sort((a, b) => (a.properties.index as number) - (b.properties.index as number));
}

/** A replica this far behind (or this long without hearing from its master) is reported. */
const REPLICA_LAG_LIMIT_SECONDS = 30;

export function findings(info: Info, config: Partial<ConfigSettings> | null, server: string): ReadinessFinding[] {
  const found: ReadinessFinding[] = [];
  const aof = info.get('aof_enabled') === '1';
  // Without CONFIG the save rules are unknown: no finding rather than a guess.
  if (config?.save !== undefined && config.save.trim() === '' && !aof) {
    found.push({
      code: 'NO_PERSISTENCE',
      message: `${server} writes nothing to disk (no RDB save rules, AOF off): a restart loses every key, and there is no RDB or AOF file to back up`,
    });
  }
  if (infoNumber(info.get('maxmemory')) === 0) {
    found.push({
      code: 'NO_MAXMEMORY',
      message: `${server} has no maxmemory limit: it grows until the operating system kills it, and a fork for an RDB save can double its footprint`,
    });
  }
  if (config?.protectedMode === 'no') {
    found.push({
      code: 'PROTECTED_MODE_OFF',
      message: `protected-mode is off on ${server}: if the default user has no password and the server listens beyond loopback, anyone who reaches the port can read and change all data`,
    });
  }
  found.push(...replicaLagFindings(info, server));
  return found;
}

function replicaLagFindings(info: Info, server: string): ReadinessFinding[] {
  if (roleOf(info) === 'replica') {
    const master = `${info.get('master_host') ?? '?'}:${info.get('master_port') ?? '?'}`;
    const link = info.get('master_link_status');
    if (link !== undefined && link !== 'up') {
      const since = infoNumber(info.get('master_link_down_since_seconds'));
      return [
        {
          code: 'REPLICA_LAG',
          message: `replica ${server} has lost its link to master ${master}${since !== null && since >= 0 ? ` (down for ${since} s)` : ''}: its data is falling behind`,
        },
      ];
    }
    const quiet = infoNumber(info.get('master_last_io_seconds_ago'));
    if (quiet !== null && quiet > REPLICA_LAG_LIMIT_SECONDS) {
      return [
        {
          code: 'REPLICA_LAG',
          message: `replica ${server} last heard from master ${master} ${quiet} s ago (more than ${REPLICA_LAG_LIMIT_SECONDS} s)`,
        },
      ];
    }
    return [];
  }
  return connectedReplicas(info)
    .filter((r) => r.lagSeconds !== null && r.lagSeconds > REPLICA_LAG_LIMIT_SECONDS)
    .map((r) => ({
      code: 'REPLICA_LAG',
      message: `replica ${r.address} of ${server} lags ${r.lagSeconds} s behind (more than ${REPLICA_LAG_LIMIT_SECONDS} s)`,
    }));
}
