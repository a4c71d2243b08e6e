/** What Census can inventory: each collector's metadata (a Census addition). */
import { Type, type Static } from '@sinclair/typebox';
import { IDENTITY_KINDS, PROTECTION_GROUPS } from '../../core/collector-info.ts';
import { TLS_MODES } from '../../core/tls-mode.ts';
import { arrayOf, boolean, collection, integer, linksOf, object, oneOf, orNull, str } from './common.ts';

export const Collector = object({
  links: linksOf('self, up, instances (what it found), appservers (the servers of its type).'),
  id: str('The application type.'),
  type: str('The application type (`applicationType` of its servers), e.g. `postgresql`.'),
  displayName: str('For people, e.g. `PostgreSQL`.'),
  serverNoun: str('What one of its servers is called, e.g. `PostgreSQL server`, `Linux host`.'),
  group: Type.Unsafe<(typeof PROTECTION_GROUPS)[number]>(oneOf(PROTECTION_GROUPS, 'The Manage Protection group its servers are listed under.')),
  defaultPort: orNull(integer('The port a registration without one uses.')),
  childTypes: arrayOf(str(), 'What an instance holds: `database`, `filesystem`, `keyspace`, …'),
  identityKinds: arrayOf(Type.Unsafe<(typeof IDENTITY_KINDS)[number]>(oneOf(IDENTITY_KINDS)), 'How it may log in, in order of preference: `password` (an identity/user) or `key` (an identity/key, `useKeyAuthentication`).'),
  passwordOptional: boolean('Whether its servers may ask for no password (Redis\'s default user without `requirepass`): a registration with inline credentials may then give `"password": ""`. A stored identity always has one.'),
  tls: boolean('Whether a server\'s `tls` mode (disable, require, verify) applies.'),
  defaultTls: orNull(Type.Unsafe<(typeof TLS_MODES)[number]>(oneOf(TLS_MODES, 'The `tls` mode of a registration that names none; null where `tls` does not apply.'))),
  defaultUri: orNull(str('The connection URI used on the host when a registration gives none (libvirt: `qemu:///system`); null: it takes no `uri`.')),
  checks: arrayOf(object({ name: str(), description: str() }), 'Its connection test\'s checks, in order: the `name`s `?action=test` answers.'),
  resourceType: str('Always `collector`.'),
}, 'An application type Census can inventory: its collector\'s metadata (a Census addition).');
Collector.$id = 'Collector';
export type CollectorWire = Static<typeof Collector>;

export const CollectorList = collection('collectors', Collector, 'What Census can inventory.');
CollectorList.$id = 'CollectorList';
