/**
 * API keys (a Census addition): long-lived credentials for scripts and Prometheus. Only the
 * SHA-256 of a key is stored: a key is 256 random bits, so a fast hash is enough (nothing to guess
 * by brute force), and whoever reads the database or a backup finds nothing a client could send.
 * `prefix` keeps a few characters of the key so that lists can tell keys apart.
 */
import type { Selectable } from 'kysely';
import { bit, bool, json, type Db } from './rows.ts';
import type { ApiKeysTable } from './schema.ts';
import { sha256Hex } from './users.ts';

export interface ApiKey {
  id: number;
  userId: number;
  /** The owner's name (read with the key). */
  userName: string;
  name: string;
  /** The first characters of the key after its `cns_`, for lists. */
  prefix: string;
  createdAt: number;
  /** Who made it: the owner, or someone who may manage others' keys. */
  createdBy: number | null;
  expiresAt: number | null;
  readOnly: boolean;
  /** Addresses and CIDR ranges the key may be used from; empty: any. */
  allowedAddresses: string[];
  lastUsedAt: number | null;
  lastUsedFrom: string | null;
  revokedAt: number | null;
}

/** A key found by its clear value for a request: the key, and whether its owner is disabled. */
export type ApiKeyUse = ApiKey & { userDisabled: boolean };

export interface NewApiKey {
  userId: number;
  name: string;
  /** The clear key: only its hash is written. */
  key: string;
  prefix: string;
  createdAt: number;
  createdBy: number | null;
  expiresAt: number | null;
  readOnly: boolean;
  allowedAddresses: string[];
}

type Row = Selectable<ApiKeysTable> & { userName: string };

const toKey = (r: Row): ApiKey => ({
  id: r.id, userId: r.userId, userName: r.userName, name: r.name, prefix: r.prefix, createdAt: r.createdAt, createdBy: r.createdBy,
  expiresAt: r.expiresAt, readOnly: bool(r.readOnly), allowedAddresses: json<string[]>(r.allowedAddresses, []),
  lastUsedAt: r.lastUsedAt, lastUsedFrom: r.lastUsedFrom, revokedAt: r.revokedAt,
});

export class ApiKeyRepository {
  constructor(private db: Db) {}

  private select() {
    return this.db.selectFrom('apiKeys').innerJoin('users', 'users.id', 'apiKeys.userId').selectAll('apiKeys').select(['users.name as userName']);
  }

  async create(k: NewApiKey): Promise<ApiKey> {
    const { id } = await this.db.insertInto('apiKeys').values({
      userId: k.userId, name: k.name, keyHash: sha256Hex(k.key), prefix: k.prefix, createdAt: k.createdAt, createdBy: k.createdBy,
      expiresAt: k.expiresAt, readOnly: bit(k.readOnly), allowedAddresses: k.allowedAddresses.length ? JSON.stringify(k.allowedAddresses) : null,
    }).returning('id').executeTakeFirstOrThrow();
    return (await this.get(id))!;
  }

  async get(id: number): Promise<ApiKey | undefined> {
    const r = await this.select().where('apiKeys.id', '=', id).executeTakeFirst();
    return r && toKey(r);
  }

  /** Every key, or one user's, oldest first. */
  async list(userId?: number): Promise<ApiKey[]> {
    let q = this.select();
    if (userId !== undefined) q = q.where('apiKeys.userId', '=', userId);
    return (await q.orderBy('apiKeys.id').execute()).map(toKey);
  }

  /** The key a request sent, found by its hash, with whether its owner is disabled (one read per request). */
  async byKey(key: string): Promise<ApiKeyUse | undefined> {
    const r = await this.select().select(['users.disabled as userDisabled']).where('apiKeys.keyHash', '=', sha256Hex(key)).executeTakeFirst();
    return r && { ...toKey(r), userDisabled: bool(r.userDisabled) };
  }

  async touch(id: number, at: number, from: string): Promise<void> {
    await this.db.updateTable('apiKeys').set({ lastUsedAt: at, lastUsedFrom: from }).where('id', '=', id).execute();
  }

  /** Revokes a key; a key revoked before keeps its first revocation time. */
  async revoke(id: number, at: number): Promise<void> {
    await this.db.updateTable('apiKeys').set({ revokedAt: at }).where('id', '=', id).where('revokedAt', 'is', null).execute();
  }
}
