/**
 * The commands the collector reads with, each turning a refusal it can live with (CONFIG renamed
 * away on managed Redis, an ACL that does not allow a command) into a warning rather than a
 * failure. A broken connection still fails the run.
 */

import { describeServer, errorMessage } from '../network-errors.ts';
import type { CollectTarget } from '../types.ts';
import { isNoPermission, isUnknownCommand, redisUser } from './errors.ts';
import { CONFIG_PARAMETERS, parseInfo, type ConfigSettings, type Info } from './inventory.ts';
import { RedisReplyError, RespProtocolError, type RespConnection, type RespValue } from './resp.ts';

/** INFO with its default sections: server, memory, persistence, replication, cluster and keyspace are among them on every version. */
export const INFO = ['INFO'];

export async function infoOf(reply: Promise<RespValue>): Promise<Info> {
  const text = await reply;
  if (typeof text !== 'string') throw new RespProtocolError('INFO did not answer with text');
  return parseInfo(text);
}

export const readInfo = (conn: RespConnection): Promise<Info> => infoOf(conn.command(...INFO));

const CONFIG_KEYS = Object.keys(CONFIG_PARAMETERS) as (keyof ConfigSettings)[];

/** CONFIG GET, one parameter per command (several in one came with Redis 7). */
export const CONFIG_GETS = CONFIG_KEYS.map((key) => ['CONFIG', 'GET', CONFIG_PARAMETERS[key]]);

/**
 * CONFIG_GETS' replies, in order. Managed services rename or disable CONFIG, and an ACL user may
 * lack it: then null and a warning.
 */
export async function configOf(replies: Promise<RespValue>[], target: CollectTarget, warnings: string[]): Promise<Partial<ConfigSettings> | null> {
  const settled = await Promise.allSettled(replies);
  const refused = settled.find((r) => r.status === 'rejected');
  if (refused) {
    const reason: unknown = refused.reason;
    if (!(reason instanceof RedisReplyError)) throw reason;
    warnings.push(`settings of ${describeServer(target)} (save rules, protected-mode, dir) not read: ${configRefusal(reason, target)}`);
    return null;
  }
  const settings: Partial<ConfigSettings> = {};
  CONFIG_KEYS.forEach((key, i) => {
    const reply = (settled[i] as PromiseFulfilledResult<unknown>).value;
    // [name, value]; empty when the version has no such parameter.
    if (Array.isArray(reply) && typeof reply[1] === 'string') settings[key] = reply[1];
  });
  return settings;
}

/** Why CONFIG GET was refused, and what to do about it. Shared with the connection test. */
export function configRefusal(err: RedisReplyError, target: CollectTarget): string {
  if (isUnknownCommand(err)) return 'CONFIG is renamed or disabled on this server (as on most managed Redis services)';
  if (isNoPermission(err)) return `user "${redisUser(target)}" may not run CONFIG GET (grant it +config|get)`;
  return errorMessage(err, target);
}

export const ACL_USERS = ['ACL', 'USERS'];

/** The number of ACL users (Redis 6+) from ACL_USERS' reply; null before 6, or when the login may not list them. */
export async function aclUserCountOf(reply: Promise<RespValue>, target: CollectTarget, warnings: string[]): Promise<number | null> {
  try {
    const users = await reply;
    return Array.isArray(users) ? users.length : null;
  } catch (err) {
    if (!(err instanceof RedisReplyError)) throw err;
    if (!isUnknownCommand(err)) {
      warnings.push(`ACL users of ${describeServer(target)} not counted: ${aclRefusal(err, target)}`);
    }
    return null;
  }
}

export function aclRefusal(err: RedisReplyError, target: CollectTarget): string {
  if (isNoPermission(err)) return `user "${redisUser(target)}" may not run ACL USERS (grant it +acl|users)`;
  return errorMessage(err, target);
}

/** CLUSTER INFO's state and size; a warning when the login may not run it. */
export async function readClusterInfo(conn: RespConnection, target: CollectTarget, warnings: string[]): Promise<Record<string, unknown> | null> {
  try {
    const text = await conn.command('CLUSTER', 'INFO');
    const fields = parseInfo(typeof text === 'string' ? text : '');
    const count = (name: string) => (fields.has(name) ? Number(fields.get(name)) : null);
    return {
      state: fields.get('cluster_state') ?? null,
      knownNodes: count('cluster_known_nodes'),
      size: count('cluster_size'),
      slotsAssigned: count('cluster_slots_assigned'),
    };
  } catch (err) {
    if (!(err instanceof RedisReplyError)) throw err;
    warnings.push(`cluster state of ${describeServer(target)} not read: ${errorMessage(err, target)}`);
    return null;
  }
}
