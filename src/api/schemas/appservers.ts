/**
 * Application servers (spec §7.1–7.3): the record, the bulk and /ngp answers, the connection test,
 * and the registration bodies. What the schemas cannot say — a host name's syntax, the port's
 * range for a numeric string, a known application type, credentials that fit the type — the
 * handler checks (src/api/appservers.ts), as it does for CSV rows, which are text.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  alwaysNull, arrayOf, boolean, BooleanLike, collection, IntegerLike, integer, linksOf, numericId, object, oneOf, openObject, orNull, ref, str, text,
} from './common.ts';

export const AppServer = object({
  links: linksOf('self, up, edit, delete, the `inventory` and `test` actions, instances.'),
  id: numericId('Application server id'),
  name: str(),
  hostAddress: str(),
  comment: orNull(str()),
  catalogEligible: boolean(),
  serverType: str('Always `physical`.'),
  vsphereId: alwaysNull(),
  applicationType: str('A `type` of GET /api/census/collector.'),
  applicationTypes: arrayOf(str()),
  osType: str(),
  useKeyAuthentication: boolean(),
  tls: oneOf(['disable', 'require', 'verify'], 'How database logins use TLS (a Census addition).'),
  logicalDelete: boolean(),
  oskey: orNull(object({ href: str('The identity.') })),
  osuser: orNull(object({ href: str('The identity.') })),
  appCredentials: arrayOf(openObject(), 'Always empty in Census.'),
  portNumber: orNull(integer('Database port (SSH port for file hosts); null for the default.')),
  opProperties: openObject(undefined, { maxConcurrency: Type.Optional(integer()) }),
  application: boolean(),
  script: boolean(),
  metadataPath: alwaysNull(),
  siteName: str(),
  siteId: str(),
  nodeId: alwaysNull(),
  type: str('Always `appserver`.'),
  resourceType: str('Always `appserver`.'),
  rbacPath: str(),
}, 'A registered application server (spec §7.1).');
AppServer.$id = 'AppServer';
export type AppServerWire = Static<typeof AppServer>;

export const AppServerList = collection('appservers', AppServer, 'Application servers.');
AppServerList.$id = 'AppServerList';

export const AppServerBulkResult = object({
  total: integer('How many were registered.'),
  sessionId: orNull(numericId('The inventory session covering them; null with ?inventory=false')),
  appservers: arrayOf(ref(AppServer)),
}, 'The result of a bulk registration.');
AppServerBulkResult.$id = 'AppServerBulkResult';
export type AppServerBulkResultWire = Static<typeof AppServerBulkResult>;

export const NgpAppServerCreated = object({
  statusCode: integer('Always 201.'),
  response: ref(AppServer),
}, 'A registration through the NodeJS layer: the server wrapped as `{statusCode, response}`.');
NgpAppServerCreated.$id = 'NgpAppServerCreated';
export type NgpAppServerCreatedWire = Static<typeof NgpAppServerCreated>;

export const NgpAppServerUpdated = object({
  statusCode: integer('Always 200.'),
  response: ref(AppServer),
}, 'An update through the NodeJS layer: the server wrapped as `{statusCode, response}`.');
NgpAppServerUpdated.$id = 'NgpAppServerUpdated';
export type NgpAppServerUpdatedWire = Static<typeof NgpAppServerUpdated>;

export const AppServerInventoryStarted = object({
  appserver: ref(AppServer),
  sessionId: numericId('The inventory session that covers the server'),
  started: boolean('A new session started (false: the server joined the running one).'),
}, 'Answer of `?action=inventory`.');
AppServerInventoryStarted.$id = 'AppServerInventoryStarted';
export type AppServerInventoryStartedWire = Static<typeof AppServerInventoryStarted>;

export const ConnectionCheck = Type.Object({
  name: str('e.g. `connect`, `login`, `privilege:pg_read_all_settings`.'),
  description: str(),
  status: oneOf(['SUCCESS', 'FAILED', 'WARNING', 'SKIPPED']),
  message: Type.Optional(str('What went wrong and what to do; never a secret.')),
}, { description: 'One step of a connection test.', additionalProperties: true });
ConnectionCheck.$id = 'ConnectionCheck';
export type ConnectionCheckWire = Static<typeof ConnectionCheck>;

export const ConnectionTest = object({
  statusHref: str('Where the result can be read again.'),
  testsComplete: boolean(),
  configGroups: arrayOf(object({
    name: str(),
    description: str(),
    tests: arrayOf(ref(ConnectionCheck)),
  })),
}, 'A connection test, in the shape sppclient reads.');
ConnectionTest.$id = 'ConnectionTest';
export type ConnectionTestWire = Static<typeof ConnectionTest>;

// ---- request bodies --------------------------------------------------------------------------

const IDENTITY_REF_TEXT = 'An identity: `{"href": ".../api/identity/user/ID"}` (or `.../identity/key/ID`), `{"id": ID}`, or the href or id itself.';

/** A reference to an identity; which identity it names is the handler's (identityRef). */
export const IdentityRef = (description = IDENTITY_REF_TEXT) => Type.Union([
  Type.Object({
    href: Type.Optional(Type.String()),
    id: Type.Optional(Type.Union([Type.String(), Type.Integer()])),
  }, { additionalProperties: true }),
  Type.String(),
  Type.Integer(),
  Type.Null(),
], { description, 'x-error': 'must be a reference to an identity ({"href": ".../api/identity/user/ID"})' });

const registrationFields = {
  name: Type.Optional(text({ maxLength: 255, description: 'Default: the host address.' })),
  portNumber: Type.Optional(IntegerLike({
    minimum: 1, maximum: 65535, errorMessage: 'must be a whole number from 1 to 65535',
    description: 'Database port (SSH port for file hosts); a number or a numeric string. Default: the type\'s `defaultPort` (GET /api/census/collector).',
  })),
  osType: Type.Optional(text({ description: 'Default `linux`.' })),
  comment: Type.Optional(text({ maxLength: 2000 })),
  tls: Type.Optional(text({ description: 'How database logins use TLS: `disable`, `require` or `verify`; the default is the collector\'s `defaultTls` (`disable` for the database collectors). A Census addition.' })),
  useKeyAuthentication: Type.Optional(BooleanLike('Log in with an SSH key identity (`oskey`).')),
  osuser: Type.Optional(IdentityRef(`The password identity to log in with. ${IDENTITY_REF_TEXT}`)),
  oskey: Type.Optional(IdentityRef(`The SSH key identity, with useKeyAuthentication. ${IDENTITY_REF_TEXT}`)),
  appCredentials: Type.Optional(Type.Array(Type.Object({ appuser: Type.Optional(IdentityRef()) }, { additionalProperties: true }), { description: '`[{"appuser": {"href": …}}]`: taken before `osuser`.' })),
  identity: Type.Optional(Type.Union([Type.String(), Type.Integer(), Type.Null()], { description: 'An identity id or href (alternative to `osuser`).', 'x-error': 'must be an identity id or href' })),
  siteId: Type.Optional(IntegerLike({
    minimum: 1, maximum: 2147483647, errorMessage: 'must be the id of a site (GET /api/site)',
    description: 'The site the server belongs to (default 1000, "Primary"); workers of that site run its tasks (docs/sites.md).',
  })),
  addToCatJob: Type.Optional(BooleanLike('Inventory the server at once (or add it to the inventory running).')),
  opProperties: Type.Optional(Type.Object({
    // Not typed: SPP clients' odd values have always fallen back to the default, not been refused.
    maxConcurrency: Type.Optional(Type.Unknown({ description: 'Tasks at a time: a whole number ≥ 1; anything else means the default, 10.' })),
  }, { additionalProperties: true })),
};

const inlineFields = {
  username: Type.Optional(text({ description: 'User name (an identity is created with `password` or `privatekey`), or an identity href.' })),
  password: Type.Optional(text({ writeOnly: true })),
  privatekey: Type.Optional(text({ writeOnly: true, description: 'SSH private key: the server uses key authentication.' })),
  privateKey: Type.Optional(text({ writeOnly: true, description: 'Same as `privatekey`.' })),
  passphrase: Type.Optional(text({ writeOnly: true })),
};

const hostAddress = text({ maxLength: 255, description: 'Host name or IP address.' });
const applicationType = text({ description: 'An application type Census can inventory: a `type` of GET /api/census/collector.' });

/** One registration, as POST /api/appserver takes it. */
export const Registration = Type.Object({ hostAddress, applicationType, ...registrationFields }, { additionalProperties: true });

/** A registration with the credentials inline, as /ngp/appserver takes it. */
export const InlineRegistration = Type.Object({ hostAddress, applicationType, ...registrationFields, ...inlineFields }, { additionalProperties: true });

/**
 * One entry of a bulk registration: the same fields, none required by the schema, so that
 * every entry's missing fields are reported together, entry by entry, by the handler.
 */
export const BulkEntry = Type.Object({
  hostAddress: Type.Optional(hostAddress), applicationType: Type.Optional(applicationType), ...registrationFields, ...inlineFields,
}, { additionalProperties: true });

const bulkText = 'Every entry is checked before any is saved (at most 5000).';

/** Bulk registration as CSV (Content-Type text/csv): read as text, checked row by row by the handler. */
export const CsvBody = Type.String({ description: 'A header row of field names (name, hostAddress, portNumber, applicationType, username, password, …), then one server per row.' });

/** POST /api/appserver: one server, a JSON array, `{"appservers": [...]}`, or CSV (text). */
export const RegisterBody: TSchema = Type.Union([
  Registration,
  Type.Array(BulkEntry, { description: `Bulk registration, credentials inline. ${bulkText}` }),
  Type.Object({ appservers: Type.Array(BulkEntry) }, { description: `Bulk registration. ${bulkText}`, additionalProperties: true }),
  CsvBody,
], { description: 'One server (a JSON object); many (a JSON array, `{"appservers": [...]}`, or CSV with a header row).' });

/** PUT /api/appserver/{id}: what changes; a property left out stays as it is. */
export const AppServerUpdateBody = Type.Object({
  hostAddress: Type.Optional(hostAddress), applicationType: Type.Optional(applicationType), ...registrationFields,
}, { description: 'The properties to change; the others stay as they are.', additionalProperties: true });

/** PUT /ngp/appserver/{id}: the same, credentials inline allowed. */
export const NgpAppServerUpdateBody = Type.Object({
  hostAddress: Type.Optional(hostAddress), applicationType: Type.Optional(applicationType), ...registrationFields, ...inlineFields,
}, { description: 'The properties to change, credentials inline allowed; the others stay as they are.', additionalProperties: true });

/** POST /api/appserver/{id}?action=inventory|test. */
export const AppServerActionBody = Type.Object({
  type: Type.Optional(Type.String()),
}, { description: 'Ignored: no body, `{}` or `{"type": "application"}`.', additionalProperties: true });
