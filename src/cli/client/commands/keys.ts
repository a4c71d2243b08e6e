/**
 * `census key list|create|show|revoke`: API keys on /api/security/apikey (docs/compat.md "API
 * keys"). Anyone manages their own keys; `--owner` (another user's keys) needs apikey.manage on
 * the server. The key itself is printed once, by `create`: the server keeps only its hash.
 */
import { flag, str, type Command, type Ctx } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
import { fields, humanTime, table } from '../format.ts';
import type { Api, Json } from '../http.ts';
import { findByNameOrId } from './users.ts';

const KEYS = '/api/security/apikey';
const DAY_MS = 86_400_000;

/** `--owner U`: a user id as is (needs no user.view), a name looked up among the users. */
async function ownerId(ctx: Ctx, api: Api): Promise<number | undefined> {
  const owner = str(ctx, 'owner');
  if (owner === undefined) return undefined;
  if (/^\d{1,9}$/.test(owner)) return Number(owner);
  return Number((await findByNameOrId(api, '/api/security/user', 'users', 'user', owner)).id);
}

/**
 * `--expires WHEN`: a number of days from now (`30`, `30d`) or an ISO 8601 date or time
 * (`2027-01-31`, `2027-01-31T12:00:00Z`), as epoch milliseconds.
 */
export function expiryOption(ctx: Ctx, now: number): number | undefined {
  const v = str(ctx, 'expires')?.trim();
  if (v === undefined) return undefined;
  const days = /^(\d{1,5})d?$/i.exec(v);
  if (days) {
    if (Number(days[1]) < 1) throw new UsageError('--expires must be at least 1 day', ctx.usage);
    return now + Number(days[1]) * DAY_MS;
  }
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new UsageError('--expires must be a number of days (90, 90d) or an ISO 8601 date (2027-01-31)', ctx.usage);
  return t;
}

/** `--allow 10.0.0.0/8,192.0.2.7`: the addresses and ranges a key may be used from. */
function allowOption(ctx: Ctx): string[] | undefined {
  const v = str(ctx, 'allow');
  if (v === undefined) return undefined;
  const list = v.split(',').map((a) => a.trim()).filter(Boolean);
  if (!list.length) throw new UsageError('--allow needs at least one address or range', ctx.usage);
  return list;
}

const addresses = (k: Json) => ((k.allowedAddresses ?? []) as string[]).join(', ') || 'any';

/** A key by id, or by its name among the keys the caller sees (their own; everyone's with apikey.manage). */
async function findKey(api: Api, given: string): Promise<Json> {
  if (/^\d{1,9}$/.test(given)) return api.get(`${KEYS}/${given}`);
  const named = (await api.list(KEYS, 'apiKeys')).filter((k: Json) => k.name === given);
  const live = named.filter((k: Json) => k.status === 'ACTIVE');
  const pick = live.length ? live : named;
  if (!pick.length) throw new CliError(`there is no API key named ${JSON.stringify(given)} (census key list shows them)`);
  if (pick.length > 1) throw new CliError(`${pick.length} API keys are named ${JSON.stringify(given)} (ids ${pick.map((k: Json) => k.id).join(', ')}); give the id`);
  return pick[0];
}

export const keyList: Command = {
  words: ['key', 'list'],
  synopsis: '[--owner USER]',
  summary: 'list API keys (yours; everyone\'s with apikey.manage), with their last use',
  help: `  --owner USER  only this user's keys (a name or id; someone else's needs apikey.manage)
  --json        one JSON array of the keys as the API gives them (never the keys themselves)`,
  options: { owner: { type: 'string' } },
  async run(ctx) {
    const api = ctx.api();
    const owner = await ownerId(ctx, api);
    const keys = await api.list(KEYS, 'apiKeys', owner === undefined ? {} : { userId: owner });
    if (ctx.json) return ctx.printJson(keys);
    if (!keys.length) return ctx.print('No API keys.');
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'prefix', 'owner', 'status', 'expires', 'last used', 'from', 'access', 'addresses'],
      keys.map((k: Json) => [
        k.id, k.name, k.prefix, k.userName, k.status, humanTime(k.expiresAt), k.lastUsedAt ? humanTime(k.lastUsedAt) : 'never',
        k.lastUsedFrom, k.readOnly ? 'read-only' : 'full', addresses(k),
      ]),
    ));
  },
};

export const keyCreate: Command = {
  words: ['key', 'create'],
  synopsis: 'NAME [--owner USER] [--expires WHEN] [--read-only] [--allow ADDR,…]',
  summary: 'make an API key and print it, this once',
  help: `  NAME            what the key is for (e.g. prometheus)
  --owner USER    whose key (a name or id; default: yours); another user's needs apikey.manage
  --expires WHEN  a number of days (90, 90d) or an ISO 8601 date (2027-01-31); default 90 days
  --read-only     the key may only read (its owner's *.view permissions)
  --allow ADDR,…  addresses or ranges it may be used from (10.0.0.0/8,192.0.2.7); default: any
  --json          the new key as the API gives it, the key itself as "key"
The key goes in "Authorization: Bearer KEY" or in place of a session id in X-Endeavour-Sessionid.
It is shown only now: Census keeps its hash, so a lost key is revoked and made again.`,
  options: { owner: { type: 'string' }, expires: { type: 'string' }, 'read-only': { type: 'boolean' }, allow: { type: 'string' } },
  args: ['NAME'],
  async run(ctx) {
    const expiresAt = expiryOption(ctx, ctx.io.now());
    const allowedAddresses = allowOption(ctx);
    const api = ctx.api();
    const userId = await ownerId(ctx, api);
    const made = await api.post(KEYS, {
      name: ctx.args[0],
      ...(userId !== undefined ? { userId } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(flag(ctx, 'read-only') ? { readOnly: true } : {}),
      ...(allowedAddresses ? { allowedAddresses } : {}),
    });
    if (ctx.json) return ctx.printJson(made);
    ctx.print(
      `Made API key ${made.name} (id ${made.id}) for ${made.userName}: ${made.readOnly ? 'read-only' : 'full access'}, ` +
        `expires ${humanTime(made.expiresAt)}, usable from ${addresses(made)}.`,
      'The key, shown this once (Census keeps only its hash):',
      '',
      `  ${made.key}`,
      '',
    );
  },
};

export const keyShow: Command = {
  words: ['key', 'show'],
  synopsis: 'KEY',
  summary: 'show one API key (never the key itself)',
  help: '  KEY           an id, or the name of one of the keys you see\n  --json        the key as the API gives it',
  args: ['KEY'],
  async run(ctx) {
    const k = await findKey(ctx.api(), ctx.args[0]!);
    if (ctx.json) return ctx.printJson(k);
    ctx.print(`API key ${k.name}`, fields([
      ['id', k.id], ['prefix', k.prefix], ['owner', `${k.userName} (id ${k.userId})`], ['status', k.status],
      ['created', humanTime(k.createdAt)], ['expires', humanTime(k.expiresAt)], ['access', k.readOnly ? 'read-only' : 'full'],
      ['addresses', addresses(k)], ['last used', k.lastUsedAt ? `${humanTime(k.lastUsedAt)} from ${k.lastUsedFrom ?? '?'}` : 'never'],
      ['revoked', k.revokedAt ? humanTime(k.revokedAt) : '-'],
    ]));
  },
};

export const keyRevoke: Command = {
  words: ['key', 'revoke'],
  synopsis: 'KEY',
  summary: 'revoke an API key at once (it stays listed, with its last use)',
  help: '  KEY           an id, or the name of one of the keys you see\n  --json        the key as the API gives it after the change',
  args: ['KEY'],
  async run(ctx) {
    const api = ctx.api();
    const k = await findKey(api, ctx.args[0]!);
    await api.delete(`${KEYS}/${k.id}`);
    if (ctx.json) return ctx.printJson(await api.get(`${KEYS}/${k.id}`));
    ctx.print(`Revoked API key ${k.name} (id ${k.id}) of ${k.userName}.`);
  },
};
