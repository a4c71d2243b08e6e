/** Login sessions and the version probes (spec §2, §3). */
import { Type, type Static } from '@sinclair/typebox';
import { arrayOf, boolean, epochMs, integer, linksOf, numericId, object, openObject, orNull, ref, str } from './common.ts';

export const LoginUser = object({
  links: linksOf(),
  id: numericId('User id'),
  name: str(),
  type: str('Always `NATIVE_USER`.'),
  typeDisplayName: str(),
  tenantId: integer('Always 1000.'),
  rbacPath: str(),
  permissions: arrayOf(openObject()),
  metadata: openObject(),
  loginCount: integer(),
  lastLogin: orNull(epochMs('Last successful login')),
  failedLogin: integer(),
  lastFailedLogin: orNull(epochMs('Last failed login')),
  lastPasswordUpdate: epochMs('Last password change'),
  passwordAge: integer(),
  passwordExpiresAt: integer(),
  passwordExpired: boolean(),
  accountDisabled: boolean(),
  accountLocked: boolean(),
}, 'The logged-in user, with the fields the SPP UI deserializes.');
LoginUser.$id = 'LoginUser';
export type LoginUserWire = Static<typeof LoginUser>;

export const LoginResponse = object({
  sessionid: str('Send it as `X-Endeavour-Sessionid` on every other call. 32 lowercase hex characters.'),
  user: ref(LoginUser),
  demo: boolean(),
  tenantAdmin: boolean(),
  userGroups: arrayOf(openObject()),
  timeZone: str(),
}, 'A new login session.');
LoginResponse.$id = 'LoginResponse';
export type LoginResponseWire = Static<typeof LoginResponse>;

export const Ping = object({
  version: str(),
  build: str(),
  product: str('Always `Census`.'),
  uptime: integer('Milliseconds since the server started.'),
  time: epochMs('Server time'),
}, 'Version probe (no session needed).');
Ping.$id = 'Ping';
export type PingWire = Static<typeof Ping>;

export const NgpVersion = object({
  product: str(),
  version: str(),
  build: str(),
  date: str('Server start, ISO 8601.'),
  epoch: str('Server start, epoch milliseconds as a string.'),
}, "The NodeJS layer's version probe (no session needed).");
NgpVersion.$id = 'NgpVersion';
export type NgpVersionWire = Static<typeof NgpVersion>;

// ---- request bodies --------------------------------------------------------------------------

/** POST /api/endeavour/session: none, `{}`, or the new password with `?changePassword=true`. Its length is the handler's check (it ends the session the login opened). */
export const LoginBody = Type.Object({
  newPassword: Type.Optional(Type.String({ description: 'With ?changePassword=true: 8 to 1024 characters.' })),
}, { description: 'None, `{}`, or the new password with `?changePassword=true`.', additionalProperties: true });
