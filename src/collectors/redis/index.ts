/**
 * Redis inventory collector: one server is one instance; its logical databases that hold keys
 * (db0, db1, ...) are the children, of type "keyspace". Reads INFO, and CONFIG GET and ACL USERS
 * where the login may; what it may not read is a warning, not a failure.
 *
 * Speaks RESP itself (resp.ts) over one connection per run, raced against the deadline and the
 * abort signal; whichever ends the run drops the connection. The login and the reads go in one
 * write (CLUSTER INFO, which only a cluster answers, after INFO says so).
 */

import { describeServer } from '../network-errors.ts';
import type { CollectedInstance, Collector, CollectOptions, CollectResult, CollectTarget } from '../types.ts';
import { CHECKS, testConnection } from './connection-test.ts';
import { classifyRedisError } from './errors.ts';
import {
  findings,
  infoNumber,
  keyspaces,
  memoryProperties,
  modeOf,
  persistenceProperties,
  replicationProperties,
  roleOf,
} from './inventory.ts';
import { ACL_USERS, aclUserCountOf, CONFIG_GETS, configOf, INFO, infoOf, readClusterInfo } from './reads.ts';
import type { RespConnection, RespValue } from './resp.ts';
import { authCommand, DEFAULT_PORT, loggedIn, NAME_CLIENT, named, Session, withDefaultPort } from './session.ts';

export const redisCollector: Collector = {
  info: {
    type: 'redis',
    displayName: 'Redis',
    group: 'databases',
    defaultPort: DEFAULT_PORT,
    childTypes: ['keyspace'],
    identityKinds: ['password'],
    passwordOptional: true,
    tls: true,
    checks: CHECKS,
  },
  applicationType: 'redis',

  async collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult> {
    const where = withDefaultPort(target);
    const session = Session.open(where, options, 'collection from');
    let succeeded = false;
    try {
      const result = await session.within(collectWith(session.conn, where));
      succeeded = true;
      return result;
    } catch (err) {
      throw classifyRedisError(err, where);
    } finally {
      await session.close(succeeded);
    }
  },

  test: testConnection,
};

type Reply = Promise<RespValue>;

async function collectWith(conn: RespConnection, target: CollectTarget): Promise<CollectResult> {
  await conn.ready;
  const server = describeServer(target);
  // Every read in one write, the login first: one round trip instead of five. After a refused
  // AUTH the rest are refused too (NOAUTH), and the login's refusal is what the run reports.
  const auth = authCommand(target);
  const replies = conn.pipeline([...(auth ? [auth] : []), NAME_CLIENT, INFO, ACL_USERS, ...CONFIG_GETS]);
  const authReply = auth ? replies.shift() : undefined;
  const [nameReply, infoReply, aclReply, ...configReplies] = replies as [Reply, Reply, Reply, ...Reply[]];
  const warnings = await loggedIn(authReply, target);
  await named(nameReply);

  const info = await infoOf(infoReply);
  const config = await configOf(configReplies, target, warnings);
  const mode = modeOf(info);

  const properties: Record<string, unknown> = {
    mode,
    role: roleOf(info),
    replication: replicationProperties(info),
    persistence: persistenceProperties(info, config),
    memory: memoryProperties(info),
    aclUsers: await aclUserCountOf(aclReply, target, warnings),
    uptimeSeconds: infoNumber(info.get('uptime_in_seconds')),
  };
  if (mode === 'cluster') properties.cluster = await readClusterInfo(conn, target, warnings);

  const instance: CollectedInstance = {
    name: `${target.host}:${target.port ?? DEFAULT_PORT}`,
    host: target.host,
    port: target.port ?? DEFAULT_PORT,
    version: info.get('redis_version') ?? null,
    properties,
    databases: keyspaces(info),
    findings: findings(info, config, server),
  };
  return { instances: [instance], warnings };
}
