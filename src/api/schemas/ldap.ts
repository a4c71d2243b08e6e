/**
 * Directory (LDAP) servers and their group mappings: /api/ldap (Census's shape; SPP's is not
 * known; docs/compat.md "Directory login"). The service account's password goes in and never
 * comes out.
 */
import { Type, type Static } from '@sinclair/typebox';
import { arrayOf, boolean, BooleanLike, collection, epochMs, IntegerLike, integer, linksOf, numericId, object, oneOf, orNull, str, text } from './common.ts';

export const LdapServer = object({
  links: linksOf('`self`, `up`, `edit`, `delete`, `test` (POST `?action=test`) and `mapping` (its group mappings).'),
  id: numericId('Directory id'),
  name: str(),
  url: str('`ldap://host[:port]` (with StartTLS) or `ldaps://host[:port]`.'),
  startTls: boolean('StartTLS on an `ldap://` URL (always true there: passwords never cross in clear).'),
  tlsVerify: boolean("The server's certificate and name are checked."),
  caCert: orNull(str('PEM: the CA(s) trusted for this server instead of the system\'s.')),
  bindDn: str('The service account that searches users and groups. Its password is never shown.'),
  userBase: str('Where users are searched (subtree).'),
  userFilter: str('With `{username}`, e.g. `(uid={username})`.'),
  usernameAttribute: str('The attribute holding the login name (default `uid`).'),
  groupBase: orNull(str('Where groups are searched; null: groups come from memberOf only.')),
  groupFilter: orNull(str('With `{dn}` or `{username}`, e.g. `(member={dn})`.')),
  timeoutMs: integer('The deadline of each step (connect, TLS, bind, search), in ms.'),
  createdAt: epochMs('When it was registered'),
}, 'A directory server users log in through.');
LdapServer.$id = 'LdapServer';
export type LdapServerWire = Static<typeof LdapServer>;

export const LdapServerList = collection('ldapServers', LdapServer, 'Directory servers, in the order logins try them.');
LdapServerList.$id = 'LdapServerList';

const Named = object({
  id: numericId('Id'),
  name: orNull(str('Its name; null when it no longer exists (the mapping then gives nothing).')),
  href: str(),
});

export const LdapMapping = object({
  links: linksOf('`self`, `up` and `delete`.'),
  id: numericId('Mapping id'),
  ldapServerId: numericId('Directory id'),
  groupDn: str("The group's DN; compared without regard to case or spaces around `,` and `=`."),
  role: Named,
  resourcePool: Named,
}, 'A directory group mapped to a permission set: its members hold this role on this resource group.');
LdapMapping.$id = 'LdapMapping';
export type LdapMappingWire = Static<typeof LdapMapping>;

export const LdapMappingList = collection('mappings', LdapMapping, "A directory's group mappings.");
LdapMappingList.$id = 'LdapMappingList';

export const LdapCheck = object({
  name: oneOf(['connect', 'tls', 'bind', 'user-base', 'group-base'], 'The check.'),
  description: str(),
  status: oneOf(['SUCCESS', 'FAILED', 'WARNING', 'SKIPPED']),
  message: str('For a person; names the server, never holds a password.'),
});

export const LdapTestResult = object({
  ok: boolean('No check FAILED.'),
  checks: arrayOf(LdapCheck),
}, "A directory's connection test: after a FAILED check the rest are SKIPPED.");
LdapTestResult.$id = 'LdapTestResult';
export type LdapTestResultWire = Static<typeof LdapTestResult>;

// ---- request bodies --------------------------------------------------------------------------

const settings = {
  url: text({ maxLength: 2048, description: '`ldap://host[:port]` or `ldaps://host[:port]`.' }),
  startTls: Type.Optional(BooleanLike('Default: true for `ldap://` (required there), false for `ldaps://`.')),
  tlsVerify: Type.Optional(BooleanLike('Default: true.')),
  caCert: Type.Optional(text({ maxLength: 65536, description: 'PEM CA certificate(s); null removes it (on a change).' })),
  bindDn: text({ maxLength: 2048 }),
  bindPassword: text({ maxLength: 1024, writeOnly: true, description: "The service account's password: sealed, never shown." }),
  userBase: text({ maxLength: 2048 }),
  userFilter: text({ maxLength: 2048 }),
  usernameAttribute: Type.Optional(text({ maxLength: 128 })),
  groupBase: Type.Optional(text({ maxLength: 2048 })),
  groupFilter: Type.Optional(text({ maxLength: 2048 })),
  timeoutMs: Type.Optional(IntegerLike({ minimum: 100, maximum: 120_000, description: '100 to 120000 (default 10000).' })),
};

export const LdapServerBody = Type.Object({
  name: text({ maxLength: 128 }),
  ...settings,
}, { additionalProperties: true, description: 'A directory server to register.' });

export const LdapServerUpdateBody = Type.Partial(LdapServerBody, {
  additionalProperties: true,
  description: 'What to change; what is left out stays, and null removes an optional setting. A change of `url`, `startTls`, `tlsVerify` or `caCert` needs `bindPassword` again.',
});

const Reference = Type.Union([
  Type.Object({ href: Type.Optional(Type.String()), id: Type.Optional(Type.Union([Type.String(), Type.Integer()])) }, { additionalProperties: true }),
  Type.String(),
  Type.Integer(),
]);

export const LdapMappingBody = Type.Object({
  groupDn: text({ maxLength: 1024, description: "The group's DN." }),
  roleId: Type.Optional(Type.Union([Type.String(), Type.Integer()], { description: 'The role (or `role` as `{id}` / `{href}`).' })),
  role: Type.Optional(Reference),
  resourcePoolId: Type.Optional(Type.Union([Type.String(), Type.Integer()], { description: 'The resource group (or `resourcePool` as `{id}` / `{href}`).' })),
  resourcePool: Type.Optional(Reference),
}, { additionalProperties: true, description: '`{"groupDn": "cn=ops,ou=groups,dc=example,dc=com", "roleId": 1002, "resourcePoolId": 1000}`.' });
