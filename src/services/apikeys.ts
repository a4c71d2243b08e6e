/**
 * API keys (a Census addition, docs/compat.md "API keys"): what scripts and Prometheus log in
 * with instead of a password. A user makes keys for themselves; someone with `apikey.manage`
 * makes, sees and revokes anyone's. A key is shown once, when it is made; the store keeps its
 * hash. It acts with its owner's permissions as they are at each use (a demoted owner's key is
 * demoted too), only their `*.view` permissions if it is read-only, and only from the addresses
 * it allows. The auth service checks a key on each request (apiKeyCheck); every reason a key is
 * refused answers the same 401 as an unknown session, so a caller learns nothing about the key.
 */
import { randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { Actor } from '../core/actor.ts';
import { forbidden, invalid, notFound, unauthenticated } from '../core/errors.ts';
import type { ApiKey, ApiKeyUse } from '../store/apikeys.ts';
import type { AuthService } from './auth.ts';
import type { ServiceContext } from './context.ts';

export type { ApiKey } from '../store/apikeys.ts';

/** What every key starts with: tells a key from a session id, and makes a leaked key easy to spot. */
export const API_KEY_PREFIX = 'cns_';
/** `cns_` and 32 random bytes in base64url. */
const KEY_SHAPE = /^cns_[A-Za-z0-9_-]{43}$/;
/** How many characters after `cns_` lists show. */
const PREFIX_LENGTH = 8;
/** A key made without an expiry lasts this long. */
export const DEFAULT_KEY_DAYS = 90;
/** How often a busy key's last use is written, at most. */
const LAST_USE_EVERY_MS = 60_000;
const MAX_ADDRESSES = 100;

export const isApiKey = (value: string): boolean => value.startsWith(API_KEY_PREFIX);

export interface ApiKeyInput {
  name: string;
  /** Whose key: the caller's own when left out. */
  userId?: number;
  /** Epoch milliseconds; DEFAULT_KEY_DAYS from now when left out. */
  expiresAt?: number;
  readOnly?: boolean;
  /** Addresses and CIDR ranges (IPv4 or IPv6); empty or left out: any. */
  allowedAddresses?: string[];
}

/** The same answer as an unknown session (services/auth.ts), whatever was wrong with the key. */
const refused = () => unauthenticated('The session does not exist or has expired. Log in again.', 'auth.expired');

/** `::ffff:10.0.0.1` (an IPv4 client of a dual-stack socket) is 10.0.0.1. */
const plainAddress = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

/** One allowed entry, checked and written one way: an address, or a range as `address/bits`. */
function allowedEntry(raw: string, i: number): string {
  const text = raw.trim();
  const [address = '', bits, extra] = text.split('/');
  const plain = plainAddress(address);
  const family = isIP(plain);
  const max = family === 4 ? 32 : 128;
  const bad = () => invalid(`allowedAddresses[${i}] must be an IPv4 or IPv6 address, or a range such as 10.0.0.0/8 or fd00::/8; got ${JSON.stringify(raw.slice(0, 80))}.`, 'apikey.address');
  if (!family || extra !== undefined) throw bad();
  if (bits === undefined) return plain;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) throw bad();
  return `${plain}/${Number(bits)}`;
}

/** Whether `address` is one of `allowed` (an empty list allows any). */
export function addressAllowed(allowed: readonly string[], address: string): boolean {
  if (!allowed.length) return true;
  const plain = plainAddress(address);
  const family = isIP(plain);
  if (!family) return false;
  const list = new BlockList();
  for (const entry of allowed) {
    const [net = '', bits] = entry.split('/');
    const type = isIP(net) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(net, type);
    else list.addSubnet(net, Number(bits), type);
  }
  return list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The check the auth service runs on a key a request sent: the key, or the 401 of a bad session
 * when it is malformed, unknown, revoked, expired, its owner is disabled or the address is not
 * one it allows. Records the key's last use, at most once a minute (a busy script would otherwise
 * write on every request).
 */
export function apiKeyCheck(ctx: Pick<ServiceContext, 'store' | 'clock'>) {
  const { store, clock } = ctx;
  const usable = (k: ApiKeyUse | undefined, now: number): k is ApiKeyUse =>
    k !== undefined && k.revokedAt === null && !k.userDisabled && (k.expiresAt === null || k.expiresAt > now);

  return {
    async authenticate(key: string, address: string): Promise<ApiKey> {
      if (!KEY_SHAPE.test(key)) throw refused();
      const now = clock.now();
      const k = await store.apiKeys.byKey(key);
      if (!usable(k, now) || !addressAllowed(k.allowedAddresses, address)) throw refused();
      if (k.lastUsedAt === null || now - k.lastUsedAt >= LAST_USE_EVERY_MS) await store.apiKeys.touch(k.id, now, plainAddress(address));
      return k;
    },

    /** Whether a key still works (an event stream opened with it asks now and then). */
    async isUsable(id: number): Promise<boolean> {
      const k = await store.apiKeys.get(id);
      const owner = k && (await store.users.byId(k.userId));
      return usable(k && owner ? { ...k, userDisabled: owner.disabled } : undefined, clock.now());
    },
  };
}

export type ApiKeyCheck = ReturnType<typeof apiKeyCheck>;

/** A new key: `cns_` and 32 random bytes. */
const newKey = (): string => API_KEY_PREFIX + randomBytes(32).toString('base64url');

export function apiKeyService(ctx: ServiceContext, auth: AuthService) {
  const { store, clock } = ctx;
  const manages = (actor: Actor) => actor.access.can('apikey.manage');
  const own = (actor: Actor, k: ApiKey) => actor.kind === 'user' && actor.userId === k.userId;

  /** A key the caller may see: their own, or any with apikey.manage; others' do not exist for them. */
  async function visible(actor: Actor, id: number): Promise<ApiKey> {
    const k = await store.apiKeys.get(id);
    if (!k || !(own(actor, k) || manages(actor))) throw notFound('API key', id);
    return k;
  }

  function changing(actor: Actor): void {
    if (actor.access.readOnly) throw forbidden('A read-only API key cannot make or revoke keys.', 'apikey.read-only');
  }

  return {
    /** Makes a key; the answer holds the key itself, which is never shown again. */
    async create(actor: Actor, input: ApiKeyInput): Promise<{ key: string; apiKey: ApiKey }> {
      changing(actor);
      const self = actor.kind === 'user' ? actor.userId : undefined;
      const userId = input.userId ?? self;
      if (userId === undefined) throw invalid('Say whose key this is ("userId").', 'apikey.user');
      if (userId !== self && !manages(actor)) throw forbidden("Making a key for another user needs the permission apikey.manage.", 'permission.missing');
      const name = (input.name ?? '').trim();
      if (!name || name.length > 128) throw invalid('"name" must be 1 to 128 characters.', 'apikey.name');
      const now = clock.now();
      const expiresAt = input.expiresAt ?? now + DEFAULT_KEY_DAYS * 86_400_000;
      if (!Number.isSafeInteger(expiresAt) || expiresAt <= now) throw invalid('"expiresAt" must be a time in the future (epoch milliseconds or an ISO 8601 date).', 'apikey.expiry');
      const addresses = input.allowedAddresses ?? [];
      if (addresses.length > MAX_ADDRESSES) throw invalid(`"allowedAddresses" holds at most ${MAX_ADDRESSES} entries.`, 'apikey.address');
      const allowedAddresses = [...new Set(addresses.map(allowedEntry))];
      if (!(await store.users.byId(userId))) throw notFound('User', userId);
      const key = newKey();
      const apiKey = await store.apiKeys.create({
        userId, name, key, prefix: key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + PREFIX_LENGTH), createdAt: now,
        createdBy: actor.kind === 'user' ? actor.userId : null, expiresAt, readOnly: input.readOnly ?? false, allowedAddresses,
      });
      return { key, apiKey };
    },

    /** The caller's keys; everyone's with apikey.manage (`userId`: only that user's). Revoked keys stay listed with their last use. */
    async list(actor: Actor, userId?: number): Promise<ApiKey[]> {
      if (!manages(actor)) return actor.kind === 'user' && (userId === undefined || userId === actor.userId) ? store.apiKeys.list(actor.userId) : [];
      return store.apiKeys.list(userId);
    },

    get: visible,

    /** Revokes a key at once: its next use is refused, and event streams it opened close. Revoking it again changes nothing. */
    async revoke(actor: Actor, id: number): Promise<void> {
      await visible(actor, id);
      changing(actor);
      await store.apiKeys.revoke(id, clock.now());
      auth.keyRevoked(id);
    },
  };
}

export type ApiKeyService = ReturnType<typeof apiKeyService>;
