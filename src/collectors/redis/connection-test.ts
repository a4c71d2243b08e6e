/**
 * The connection test: reach the server, log in, read INFO, and see whether the login may run
 * the commands that make the inventory complete (CONFIG GET, ACL USERS). Each check builds on the
 * ones before; after a FAILED one the rest are SKIPPED.
 */

import { describeServer } from '../network-errors.ts';
import type { CollectOptions, CollectTarget, ConnectionCheck } from '../types.ts';
import { classifyRedisError, isUnknownCommand, redisUser } from './errors.ts';
import { aclRefusal, configRefusal, readInfo } from './reads.ts';
import { modeOf, roleOf } from './inventory.ts';
import { RedisReplyError } from './resp.ts';
import { login, Session, withDefaultPort } from './session.ts';

export const CHECKS = [
  { name: 'connect', description: 'reach the Redis server and get an answer to PING' },
  { name: 'login', description: 'log in with the given user and password (AUTH)' },
  { name: 'info', description: 'read the server description (INFO)' },
  { name: 'config', description: 'read settings with CONFIG GET (save rules, protected-mode)' },
  { name: 'acl', description: 'list the ACL users (ACL USERS)' },
] as const;
type CheckName = (typeof CHECKS)[number]['name'];
type Outcome = { status: ConnectionCheck['status']; message: string };

export async function testConnection(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]> {
  const where = withDefaultPort(target);
  const server = describeServer(where);
  const user = `user "${redisUser(where)}"`;
  const results: ConnectionCheck[] = [];
  let failed: string | null = null;
  let session: Session | null = null;

  const run = async (name: CheckName, probe: (s: Session) => Promise<Outcome>) => {
    const description = CHECKS.find((c) => c.name === name)!.description;
    if (failed !== null) {
      results.push({ name, description, status: 'SKIPPED', message: `not run: the "${failed}" check failed` });
      return;
    }
    let outcome: Outcome;
    try {
      session ??= Session.open(where, options, 'connection test of');
      outcome = await session.within(probe(session));
    } catch (err) {
      outcome = { status: 'FAILED', message: classifyRedisError(err, where).message };
    }
    if (outcome.status === 'FAILED') failed = name;
    results.push({ name, description, ...outcome });
  };

  try {
    await run('connect', async ({ conn }) => {
      await conn.ready;
      // Before AUTH, a server with a password answers PING with NOAUTH: an answer all the same.
      const reply = await conn.command('PING').catch((err: unknown) => {
        if (err instanceof RedisReplyError) return err.message;
        throw err;
      });
      return { status: 'SUCCESS', message: `${server} answers as a Redis server (PING: ${String(reply).split(' ')[0]})` };
    });

    await run('login', async ({ conn }) => {
      const remarks = await login(conn, where);
      await conn.command('PING');
      if (remarks.length > 0) return { status: 'WARNING', message: remarks.join('; ') };
      const how = where.password ? `logged in to ${server} as ${user}` : `${server} needs no password for the default user`;
      return { status: 'SUCCESS', message: how };
    });

    await run('info', async ({ conn }) => {
      const info = await readInfo(conn);
      const role = roleOf(info);
      return {
        status: 'SUCCESS',
        message: `Redis ${info.get('redis_version') ?? '(version unknown)'}, ${modeOf(info)}${role ? `, ${role}` : ''}`,
      };
    });

    await run('config', async ({ conn }) => {
      try {
        await conn.command('CONFIG', 'GET', 'save');
        return { status: 'SUCCESS', message: `${user} may read the server's settings` };
      } catch (err) {
        if (!(err instanceof RedisReplyError)) throw err;
        return { status: 'WARNING', message: `${configRefusal(err, where)}: save rules and protected-mode will not be reported` };
      }
    });

    await run('acl', async ({ conn }) => {
      try {
        const users = await conn.command('ACL', 'USERS');
        return { status: 'SUCCESS', message: `${server} has ${Array.isArray(users) ? users.length : 0} ACL user(s)` };
      } catch (err) {
        if (!(err instanceof RedisReplyError)) throw err;
        if (isUnknownCommand(err)) return { status: 'SUCCESS', message: `${server} predates ACLs (Redis before 6)` };
        return { status: 'WARNING', message: `${aclRefusal(err, where)}: the number of ACL users will not be reported` };
      }
    });
  } finally {
    await (session as Session | null)?.close(failed === null);
  }
  return results;
}
