/** What inventories found (spec §7.4): instances, databases and file systems, and their change history. */
import { Type, type Static } from '@sinclair/typebox';
import { alwaysNull, arrayOf, boolean, collection, epochMs, integer, linksOf, numericId, object, openObject, orNull, ref, str } from './common.ts';

export const Change = object({
  links: linksOf(),
  id: numericId('Change id'),
  jobsessionId: numericId('Session that recorded it'),
  appserverId: numericId('Application server id'),
  objectType: str('`instance`, or what the collector says its children are: `database`, `filesystem`, `keyspace`, …'),
  objectId: orNull(numericId('Id of the object')),
  objectName: str(),
  parentName: orNull(str('Name of the instance of a database.')),
  change: str('`appeared`, `reappeared`, `disappeared` or `changed`.'),
  field: orNull(str('The property that changed.')),
  oldValue: orNull(str()),
  newValue: orNull(str()),
  recordedAt: epochMs('When it was recorded'),
}, 'One entry of the inventory change history (a Census addition).');
Change.$id = 'Change';
export type ChangeWire = Static<typeof Change>;

export const ChangeList = collection('changes', Change, 'Changes, oldest first.');
ChangeList.$id = 'ChangeList';

export const Finding = Type.Object({
  code: str('Stable code, e.g. `ARCHIVE_MODE_OFF`.'),
  message: str(),
}, { description: 'A readiness finding.', additionalProperties: true });
Finding.$id = 'Finding';
export type FindingWire = Static<typeof Finding>;

export const Instance = object({
  links: linksOf('self, up, databases (or filesystems), history, appserver.'),
  id: numericId('Instance id'),
  name: str('`host:port`.'),
  host: str(),
  port: orNull(integer()),
  version: orNull(str()),
  applicationType: str(),
  osType: str(),
  appserverId: numericId('Application server id'),
  storageProfiles: arrayOf(str(), 'Always empty in Census.'),
  metadataPath: alwaysNull(),
  properties: openObject('What the collector read (settings, extensions, data directory, …).'),
  firstSeen: epochMs('First found'),
  lastSeen: epochMs('Last found'),
  missing: boolean('The last inventory did not find it.'),
  lastSessionId: orNull(numericId('Session that last saw it')),
  findings: arrayOf(ref(Finding)),
  resourceType: str('Always `applicationinstance`.'),
}, 'A database server instance (or file host) an inventory found (spec §7.4).');
Instance.$id = 'Instance';
export type InstanceWire = Static<typeof Instance>;

export const InstanceList = collection('instances', Instance, 'Instances.');
InstanceList.$id = 'InstanceList';

export const Database = object({
  links: linksOf(),
  id: numericId('Database id'),
  name: str('Database name, or the mount point of a file system.'),
  instanceId: numericId('Instance id'),
  size: orNull(integer('Bytes (same as sizeBytes).')),
  sizeBytes: orNull(integer()),
  owner: orNull(str()),
  encoding: orNull(str()),
  properties: openObject(),
  firstSeen: epochMs('First found'),
  lastSeen: epochMs('Last found'),
  missing: boolean('The last inventory did not find it.'),
  findings: arrayOf(ref(Finding)),
  storageProfiles: arrayOf(str(), 'Always empty in Census.'),
  eligibility: object({
    backup: object({ eligible: boolean() }),
    logbackup: object({ eligible: boolean() }),
  }),
  resourceType: str('`database` or `filesystem`.'),
}, 'A database (or a file system on a file host) an inventory found.');
Database.$id = 'Database';
export type DatabaseWire = Static<typeof Database>;

export const DatabaseList = collection('databases', Database, 'Databases of an instance.');
DatabaseList.$id = 'DatabaseList';
export const FileSystemList = collection('filesystems', Database, 'File systems of a file host.');
FileSystemList.$id = 'FileSystemList';
