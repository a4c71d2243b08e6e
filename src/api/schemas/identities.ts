/** Identities (spec §7.5): stored credentials. Secrets go in (bodies here) and never come out. */
import { Type, type Static } from '@sinclair/typebox';
import { collection, linksOf, numericId, object, orNull, str, text } from './common.ts';

export const Identity = object({
  links: linksOf(),
  id: numericId('Identity id'),
  name: str(),
  username: str(),
  type: str('e.g. `system`.'),
  ostype: str('e.g. `LINUX`.'),
  comment: orNull(str()),
  keytype: Type.Optional(str('`ssh_private_key` (key identities only).')),
  resourceType: str('`identityuser` or `identitykey`.'),
}, 'Stored credentials (spec §7.5). The password or private key is never returned.');
Identity.$id = 'Identity';
export type IdentityWire = Static<typeof Identity>;

export const UserIdentityList = collection('users', Identity, 'User name and password identities.');
UserIdentityList.$id = 'UserIdentityList';
export const KeyIdentityList = collection('keys', Identity, 'SSH key identities.');
KeyIdentityList.$id = 'KeyIdentityList';

// ---- request bodies --------------------------------------------------------------------------
// Whether a password is given and a key looks like one is the handler's (identityDraft), with the
// messages clients know; the schemas say the types and lengths.

const COMMON_FIELDS = {
  name: Type.Optional(text({ maxLength: 255, description: 'Default: the user name.' })),
  type: Type.Optional(text({ description: 'Default `system`.' })),
  ostype: Type.Optional(text({ description: 'Default `LINUX`.' })),
  comment: Type.Optional(text({ maxLength: 2000 })),
};

export const PasswordIdentityBody = Type.Object({
  ...COMMON_FIELDS,
  username: text({ maxLength: 255 }),
  password: text({ maxLength: 1024, writeOnly: true }),
}, { description: 'A user name and password. The password is sealed (AES-256-GCM) and never returned.', additionalProperties: true });

export const KeyIdentityBody = Type.Object({
  ...COMMON_FIELDS,
  username: text({ maxLength: 255 }),
  privatekey: Type.Optional(text({ maxLength: 16384, writeOnly: true, description: '-----BEGIN … PRIVATE KEY----- (`privateKey` is read too).' })),
  privateKey: Type.Optional(text({ maxLength: 16384, writeOnly: true, description: 'Same as `privatekey`.' })),
  passphrase: Type.Optional(text({ maxLength: 1024, writeOnly: true, description: 'If the key has one.' })),
}, { description: 'A user name and an SSH private key (OpenSSH or PEM). The key and passphrase are sealed and never returned.', additionalProperties: true });
