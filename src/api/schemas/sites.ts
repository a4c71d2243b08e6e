/**
 * Sites and the workers SPP calls VADP proxies (spec §11.3, docs/sites.md): /api/site and
 * /api/vadp. `throttles` is always empty (Census has no bandwidth throttles); `allowAnyWorker`
 * and the workers' pid, start and last heartbeat are Census additions.
 */
import { Type, type Static } from '@sinclair/typebox';
import { arrayOf, boolean, BooleanLike, collection, epochMs, integer, linksOf, numericId, object, oneOf, openObject, orNull, str, text } from './common.ts';

export const Site = object({
  links: linksOf('`self`, `up`, `edit`, and `delete` (not on the default site).'),
  id: numericId('Site id (1000 is "Primary")'),
  name: str('Unique, regardless of case.'),
  description: str(),
  defaultSite: boolean('True for site 1000, "Primary": servers registered without a site belong to it; it cannot be deleted.'),
  throttles: arrayOf(openObject(), 'Always empty: Census has no bandwidth throttles.'),
  allowAnyWorker: boolean('When no live worker is in this site, any worker may take its tasks (otherwise they wait). A Census addition.'),
  rbacPath: str(),
}, 'A site: a place application servers, hypervisors and workers belong to.');
Site.$id = 'Site';
export type SiteWire = Static<typeof Site>;

export const SiteList = collection('sites', Site, 'Sites, "Primary" first.');
SiteList.$id = 'SiteList';

export const SiteBody = Type.Object({
  name: text({ minLength: 1, maxLength: 128, description: 'Unique, regardless of case.' }),
  description: Type.Optional(text({ maxLength: 2000 })),
  defaultSite: Type.Optional(BooleanLike('Only `false`: site 1000 stays the default site.')),
  allowAnyWorker: Type.Optional(BooleanLike('Let any worker take this site\'s tasks while it has no live worker (default false).')),
}, { additionalProperties: true });

export const SiteUpdateBody = Type.Object({
  name: Type.Optional(text({ minLength: 1, maxLength: 128 })),
  description: Type.Optional(text({ maxLength: 2000 })),
  defaultSite: Type.Optional(BooleanLike('Cannot change.')),
  allowAnyWorker: Type.Optional(BooleanLike('Let any worker take this site\'s tasks while it has no live worker.')),
}, { additionalProperties: true });

export const Vadp = object({
  links: linksOf('`self` and `up`.'),
  id: numericId('Worker id'),
  displayName: str('Host name of the machine the worker runs on.'),
  hostName: str('The same host name.'),
  ipAddr: orNull(str('The address of that machine (the server\'s listen address when the worker is a server).')),
  siteId: numericId('Its site'),
  siteName: orNull(str("Its site's name; null if the site is gone.")),
  state: oneOf(['ENABLED', 'DEAD', 'STOPPED'], '`ENABLED` while it heartbeats; `DEAD` when its last heartbeat is older than its lease (killed, hung or cut off); `STOPPED` after a clean stop.'),
  version: str('The Census version it runs.'),
  role: oneOf(['worker', 'server'], 'A `census worker`, or a server that runs tasks itself (SQLite, or `--with-worker`). A Census addition.'),
  pid: integer('Its process id on that machine (a Census addition).'),
  startedAt: epochMs('When it started (a Census addition)'),
  lastSeen: epochMs('Its last heartbeat (a Census addition)'),
  leaseMs: integer('Without a heartbeat for this long it counts as DEAD (a Census addition).'),
  sharesMachineWith: orNull(numericId('While it is ENABLED: the earlier live worker of its site on the same machine (host name), whose CPUs it shares; it then takes tasks only while the machine\'s CPUs are less busy than `sharedCpu` percent. Null: it is the first on its machine, or not live (a Census addition)')),
  sharedCpu: orNull(integer('The CPU share (percent) under which it takes tasks while it shares its machine (`--shared-cpu`; 100: as if alone). Null: it never holds back, the embedded default\'s one process (a Census addition).')),
}, 'A Census worker, in the shape SPP lists its VADP proxies.');
Vadp.$id = 'Vadp';
export type VadpWire = Static<typeof Vadp>;

export const VadpList = collection('vadps', Vadp, 'Workers, as SPP lists its proxies.');
VadpList.$id = 'VadpList';
