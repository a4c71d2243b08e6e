/**
 * The Census host as SPP's monitoring reads it (spec §11.3): /ngp/metrics,
 * /api/endeavour/sysdiag/filesystem, and SPP's storage and SLA collections, which Census answers
 * empty (docs/compat.md, "Host metrics, storage and SLA policies").
 */
import { Type, type Static } from '@sinclair/typebox';
import { collection, integer, linksOf, number, object, oneOf, openObject, orNull, str } from './common.ts';

const SizeUtil = (what: string) => object({
  size: orNull(integer(`Size of ${what} in bytes; null when not known.`)),
  util: orNull(number(`Percent of ${what} in use (0–100); null when not known.`)),
}, what);

export const HostMetrics = object({
  cpuUtil: orNull(number("Percent of the Census host's CPU time (all CPUs) spent busy over the last 1 to 6 seconds; null before a window could be measured.")),
  memory: SizeUtil("the host's memory (used: total less what the kernel reports available)"),
  data: SizeUtil("the file system of Census's data directory"),
  data2: SizeUtil("the database's file system: SQLite's file, or PostgreSQL's data_directory when that server runs on this host and lets Census read the setting"),
  data3: SizeUtil('the file system of the temporary directory (TMPDIR, else /tmp)'),
}, "The Census host's CPU, memory and file systems in SPP's /ngp/metrics shape (one object, not wrapped).");
HostMetrics.$id = 'HostMetrics';
export type HostMetricsWire = Static<typeof HostMetrics>;

export const HostFileSystem = object({
  name: oneOf(['Configuration', 'Catalog', 'System'], "SPP's name for what is kept there: Configuration (the data directory), Catalog (the database), System (the temporary directory)."),
  mountPoint: str('Where that file system is mounted (a Census addition).'),
  type: orNull(str('File system type (`ext4`, `xfs`, `overlay`, …); null where the host has no /proc/self/mountinfo.')),
  status: oneOf(['NORMAL', 'WARNING'], '`WARNING` above 90 % used.'),
  totalSize: integer('Bytes.'),
  usedSize: integer('Bytes in use.'),
  availableSize: integer('Bytes Census can still write (blocks reserved for root excluded).'),
  percentUsed: number("used / (used + available) × 100, as `df` counts it."),
  holds: oneOf(['data', 'database', 'temp'], 'What of Census it holds (a Census addition).'),
}, 'A file system Census keeps data on.');
HostFileSystem.$id = 'HostFileSystem';
export type HostFileSystemWire = Static<typeof HostFileSystem>;

export const HostFileSystemList = collection('filesystems', HostFileSystem, 'One entry per distinct file system holding Census\'s data directory, database or temporary directory.');
HostFileSystemList.$id = 'HostFileSystemList';

/** SPP's envelope around a collection Census never fills. */
const emptyCollection = (key: string, description: string) => Type.Object({
  links: linksOf('`self` and `up`.'),
  total: integer('Always 0.'),
  page: integer('1-based page number, from the paging parameters.'),
  [key]: Type.Array(openObject(), { maxItems: 0, description: 'Always empty.' }),
}, { description });

export const StorageList = emptyCollection('storages', 'Backup storage (vSnap, cloud, repository servers): Census keeps no backups, so there is none.');
StorageList.$id = 'StorageList';
export const SlaPolicyList = emptyCollection('slapolicies', 'SLA policies: Census runs no backups, so it has none.');
SlaPolicyList.$id = 'SlaPolicyList';
export const StorageProfileList = emptyCollection('storageprofiles', 'Storage profiles (the specs of SLA policies): none, as there are no SLA policies.');
StorageProfileList.$id = 'StorageProfileList';
