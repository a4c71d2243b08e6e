/**
 * Redis inventory collector: one server is one instance; its logical databases that hold keys
 * (db0, db1, ...) are the children, of type "keyspace". Reads INFO, and CONFIG GET and ACL USERS
 * where the login may; what it may not read is a warning, not a failure.
 *
 * Speaks RESP itself (resp.ts) over one connection per run, raced against the deadline and the
 * abort signal; whichever ends the run drops the connection.
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
import { readAclUserCount, readClusterInfo, readConfig, readInfo } from './reads.ts';
import type { RespConnection } from './resp.ts';
import { DEFAULT_PORT, login, nameClient, Session, withDefaultPort } from './session.ts';

export const redisCollector: Collector = {
  info: {
    type: 'redis',
    displayName: 'Redis',
    group: 'databases',
    defaultPort: DEFAULT_PORT,
    childTypes: ['keyspace'],
    identityKinds: ['password'],
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

async function collectWith(conn: RespConnection, target: CollectTarget): Promise<CollectResult> {
  await conn.ready;
  const server = describeServer(target);
  const warnings = await login(conn, target);
  await nameClient(conn);

  const info = await readInfo(conn);
  const config = await readConfig(conn, target, warnings);
  const mode = modeOf(info);

  const properties: Record<string, unknown> = {
    mode,
    role: roleOf(info),
    replication: replicationProperties(info),
    persistence: persistenceProperties(info, config),
    memory: memoryProperties(info),
    aclUsers: await readAclUserCount(conn, target, warnings),
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
