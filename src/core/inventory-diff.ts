/**
 * What changed between two inventories of one server: objects that appeared, disappeared (or
 * came back), and fields that changed. Sizes count as changed only beyond a threshold, so the
 * history shows growth that matters and not every page a database writes.
 */

/** An instance, or one of its children: what the collector says they are (CollectorInfo.childTypes: database, filesystem, keyspace, …). */
export type ObjectType = 'instance' | (string & {});
export type ChangeKind = 'appeared' | 'disappeared' | 'reappeared' | 'changed';

export interface Change {
  objectType: ObjectType;
  /** Name of the object (instance name, database name, mount point). */
  objectName: string;
  /** For a database or file system, the instance it belongs to. */
  parentName: string | null;
  change: ChangeKind;
  field: string | null;
  oldValue: string | null;
  newValue: string | null;
}

export interface SizeThreshold {
  /** Relative change that counts (0.1 = 10 %). */
  ratio: number;
  /** And at least this many bytes. */
  bytes: number;
}

export const DEFAULT_SIZE_THRESHOLD: SizeThreshold = { ratio: 0.1, bytes: 10 * 1024 * 1024 };

/** Properties worth a history entry when they change (settings, not counters that move on their own). */
const WATCHED_PROPERTIES = new Set([
  'archiveMode', 'walLevel', 'isReplica', 'dataDirectory', 'port', 'maxConnections', 'flavor', 'binaryLog', 'binlogFormat',
  'gtidMode', 'serverId', 'dataDir', 'os', 'kernel', 'hostKeyFingerprint', 'encoding', 'owner', 'type', 'device', 'readOnly',
  'collation',
  // A VM's (hypervisor inventory): vCPUs, memory, power state. Its disks are compared by target
  // and path (diskLayout below), not by their sizes, which move all the time (sizeBytes has a threshold).
  'vcpus', 'maxVcpus', 'memoryBytes', 'maxMemoryBytes', 'state',
  // A PostgreSQL database's own settings (ALTER DATABASE … SET), and a Redis keyspace's key count:
  // the incremental inventory promises that a change to either is found (docs/inventory.md).
  'settings', 'keys',
]);

/** A PostgreSQL database's extensions as "name version" pairs: one created, dropped or updated is a change. */
const extensionList = (extensions: unknown): string | undefined => (Array.isArray(extensions)
  ? extensions.map((e) => `${String((e as Record<string, unknown>)?.name ?? '?')} ${String((e as Record<string, unknown>)?.version ?? '')}`).join(', ')
  : undefined);

/** A VM's disks as "target=path" pairs: a disk added, removed or pointed elsewhere is a change. */
const diskLayout = (disks: unknown): string | undefined => (Array.isArray(disks)
  ? disks.map((d) => `${String((d as Record<string, unknown>)?.target ?? '?')}=${String((d as Record<string, unknown>)?.path ?? '')}`).join(', ')
  : undefined);

export interface Snapshot {
  name: string;
  missing: boolean;
  version?: string | null;
  sizeBytes?: number | null;
  owner?: string | null;
  encoding?: string | null;
  properties: Record<string, unknown>;
}

const text = (v: unknown): string | null => (v === undefined || v === null ? null : typeof v === 'string' ? v : JSON.stringify(v));

export function sizeChanged(before: number | null | undefined, after: number | null | undefined, t: SizeThreshold): boolean {
  if (before === null || before === undefined || after === null || after === undefined) return false;
  const delta = Math.abs(after - before);
  return delta >= t.bytes && delta >= Math.abs(before) * t.ratio;
}

/** Field changes of one object seen in both runs. */
export function fieldChanges(before: Snapshot, after: Snapshot, t: SizeThreshold): { field: string; oldValue: string | null; newValue: string | null }[] {
  const out: { field: string; oldValue: string | null; newValue: string | null }[] = [];
  const add = (field: string, a: unknown, b: unknown) => {
    if (text(a) !== text(b)) out.push({ field, oldValue: text(a), newValue: text(b) });
  };
  if (after.version !== undefined) add('version', before.version, after.version);
  if (after.owner !== undefined) add('owner', before.owner, after.owner);
  if (after.encoding !== undefined) add('encoding', before.encoding, after.encoding);
  if (sizeChanged(before.sizeBytes, after.sizeBytes, t)) add('sizeBytes', before.sizeBytes, after.sizeBytes);
  const keys = new Set([...Object.keys(before.properties), ...Object.keys(after.properties)]);
  for (const k of [...keys].sort()) {
    if (WATCHED_PROPERTIES.has(k) && k in before.properties && k in after.properties) add(k, before.properties[k], after.properties[k]);
  }
  if (Array.isArray(before.properties.disks) && Array.isArray(after.properties.disks)) add('disks', diskLayout(before.properties.disks), diskLayout(after.properties.disks));
  if (Array.isArray(before.properties.extensions) && Array.isArray(after.properties.extensions)) {
    add('extensions', extensionList(before.properties.extensions), extensionList(after.properties.extensions));
  }
  return out;
}

/**
 * Compares the objects one server had (`before`, including ones already missing) with what a run
 * found (`after`), by name.
 */
export function diffObjects(
  objectType: ObjectType,
  parentName: string | null,
  before: Snapshot[],
  after: Snapshot[],
  t: SizeThreshold = DEFAULT_SIZE_THRESHOLD,
): Change[] {
  const changes: Change[] = [];
  const prior = new Map(before.map((b) => [b.name, b]));
  const found = new Set(after.map((a) => a.name));
  const base = { objectType, parentName };
  for (const a of after) {
    const b = prior.get(a.name);
    if (!b) changes.push({ ...base, objectName: a.name, change: 'appeared', field: null, oldValue: null, newValue: null });
    else {
      if (b.missing) changes.push({ ...base, objectName: a.name, change: 'reappeared', field: null, oldValue: null, newValue: null });
      for (const f of fieldChanges(b, a, t)) changes.push({ ...base, objectName: a.name, change: 'changed', ...f });
    }
  }
  for (const b of before) {
    if (!found.has(b.name) && !b.missing) {
      changes.push({ ...base, objectName: b.name, change: 'disappeared', field: null, oldValue: null, newValue: null });
    }
  }
  return changes;
}

const MB = 1024 * 1024;
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < MB) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * MB) return `${(n / MB).toFixed(1)} MiB`;
  return `${(n / (1024 * MB)).toFixed(2)} GiB`;
}

/** "3 databases appeared (a, b, c); 1 disappeared (d); 1 changed (e: size 10.0 MiB → 52.0 MiB)". */
export function describeChanges(changes: Change[]): string {
  if (!changes.length) return 'no changes since the last inventory';
  const parts: string[] = [];
  const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const names = (cs: Change[]) => {
    const list = [...new Set(cs.map((c) => c.objectName))];
    return list.length > 5 ? `${list.slice(0, 5).join(', ')}, …` : list.join(', ');
  };
  for (const kind of ['appeared', 'reappeared', 'disappeared'] as const) {
    // Instances first, then each kind of child in the order they appear.
    for (const type of new Set(['instance', ...changes.map((c) => c.objectType)])) {
      const cs = changes.filter((c) => c.change === kind && c.objectType === type);
      if (cs.length) parts.push(`${plural(cs.length, type === 'filesystem' ? 'file system' : type)} ${kind} (${names(cs)})`);
    }
  }
  const changed = changes.filter((c) => c.change === 'changed');
  if (changed.length) {
    const shown = changed.slice(0, 5).map((c) => {
      const fmt = (v: string | null) => (c.field === 'sizeBytes' && v !== null ? formatBytes(Number(v)) : v ?? 'none');
      return `${c.objectName}: ${c.field === 'sizeBytes' ? 'size' : c.field} ${fmt(c.oldValue)} → ${fmt(c.newValue)}`;
    });
    parts.push(`${changed.length} change${changed.length === 1 ? '' : 's'} (${shown.join('; ')}${changed.length > 5 ? '; …' : ''})`);
  }
  return parts.join('; ');
}
