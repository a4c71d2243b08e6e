/** API keys (a Census addition): /api/security/apikey. The key itself appears only in the answer that made it. */
import { Type, type Static } from '@sinclair/typebox';
import { arrayOf, boolean, BooleanLike, collection, epochMs, IntegerLike, linksOf, numericId, object, oneOf, orNull, str, text } from './common.ts';

const keyFields = {
  links: linksOf(),
  id: numericId('API key id'),
  name: str('What the key is for.'),
  prefix: str('The first characters of the key (`cns_` and 8 more), to tell keys apart; never the key.'),
  userId: numericId('The owner, whose permissions the key acts with'),
  userName: str("The owner's name."),
  createdAt: epochMs('When it was made'),
  createdBy: orNull(numericId('Who made it: the owner, or someone with `apikey.manage`')),
  expiresAt: orNull(epochMs('When it stops working')),
  readOnly: boolean('Only the `*.view` permissions of its owner.'),
  allowedAddresses: arrayOf(str(), 'Addresses and CIDR ranges it may be used from; empty: any.'),
  lastUsedAt: orNull(epochMs('Its last use, to the minute')),
  lastUsedFrom: orNull(str('The address of its last use.')),
  revokedAt: orNull(epochMs('When it was revoked')),
  status: oneOf(['ACTIVE', 'EXPIRED', 'REVOKED'], 'Whether it works now.'),
};

export const ApiKey = object(keyFields, 'An API key, without the key.');
ApiKey.$id = 'ApiKey';
export type ApiKeyWire = Static<typeof ApiKey>;

export const ApiKeyCreated = object({
  ...keyFields,
  key: str('The key: send it as `Authorization: Bearer <key>` or `X-Endeavour-Sessionid: <key>`. Shown this once; Census keeps only its hash.'),
}, 'A new API key, with the key itself (never shown again).');
ApiKeyCreated.$id = 'ApiKeyCreated';
export type ApiKeyCreatedWire = Static<typeof ApiKeyCreated>;

export const ApiKeyList = collection('apiKeys', ApiKey, "The caller's API keys (everyone's with `apikey.manage`), revoked ones included.");
ApiKeyList.$id = 'ApiKeyList';

export const ApiKeyBody = Type.Object({
  name: text({ maxLength: 128, description: 'What the key is for.' }),
  userId: Type.Optional(IntegerLike({ description: "Whose key (needs `apikey.manage` for another user's); the caller's own when left out." })),
  expiresAt: Type.Optional(Type.Union([Type.Integer(), Type.String({ maxLength: 64 }), Type.Null()], {
    description: 'When it stops working: epoch milliseconds or an ISO 8601 date, in the future. Default: 90 days from now.', 'x-error': 'must be epoch milliseconds or an ISO 8601 date',
  })),
  readOnly: Type.Optional(BooleanLike('Only the `*.view` permissions of the owner (default false).')),
  allowedAddresses: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), {
    maxItems: 100, description: 'Addresses and CIDR ranges (IPv4, IPv6) it may be used from, e.g. `["10.1.2.3", "192.168.0.0/16"]`. Default: any.',
  })),
}, { additionalProperties: true, description: 'A new API key.' });
