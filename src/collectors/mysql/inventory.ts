/**
 * What collect() reads, in the order that matters: the version (must succeed), then the optional
 * descriptions of the server (variables, engines, replication, grants), each of which becomes a
 * warning or finding when refused, and last the schemas, whose sizes are time-boxed. Those that
 * are never refused to a login are sent together first, in one round trip.
 */

import { describeServer, errorMessage } from '../network-errors.ts';
import type { CollectedInstance, CollectResult, CollectTarget, ReadinessFinding } from '../types.ts';
import { binaryLogFindings, privilegeFindings, replicaStatusFinding } from './findings.ts';
import { Batch, ENGINES_SQL, GRANTS_SQL, optional, readEngines, readGrants, readReplicaStatus, readVersion, VERSION_SQL } from './reads.ts';
import { readSchemas, readSchemaSizes, SCHEMAS_SQL, schemaDatabases } from './schemas.ts';
import { type Budget, DEFAULT_PORT, type Session } from './session.ts';
import { flavorOf, gtidProperties, onOff, readVariables, VARIABLES_SQL, type Variables } from './variables.ts';

export async function collectInventory(session: Session, budget: Budget, target: CollectTarget): Promise<CollectResult> {
  const conn = new Batch(await session.open());
  // The reads no login is refused go in one round trip; the replica status, which may be
  // refused, and the time-boxed sizes go on their own.
  await conn.ahead([VERSION_SQL, VARIABLES_SQL, ENGINES_SQL, GRANTS_SQL, SCHEMAS_SQL]);
  const server = describeServer(target);
  const warnings: string[] = [];
  const findings: ReadinessFinding[] = [];
  const warn = (what: string) => (err: unknown) => warnings.push(`${what} not read: ${errorMessage(err, target)}`);

  const version = await readVersion(conn);
  const variables: Variables = (await optional(() => readVariables(conn), warn(`server variables of ${server}`))) ?? {};
  const flavor = flavorOf(version, variables.version_comment);

  const properties: Record<string, unknown> = {
    flavor,
    versionComment: variables.version_comment ?? null,
  };

  const engines = await optional(() => readEngines(conn), warn(`storage engines of ${server}`));
  if (engines) properties.storageEngines = engines;

  const binaryLog = onOff(variables.log_bin);
  properties.binaryLog = binaryLog;
  properties.binlogFormat = variables.binlog_format ?? null;
  Object.assign(properties, gtidProperties(flavor, variables));
  properties.serverId = variables.server_id === undefined ? null : Number(variables.server_id);
  if (variables.datadir) properties.dataDir = variables.datadir;

  findings.push(...binaryLogFindings(binaryLog, variables.binlog_format, server));

  const replica = await readReplicaStatus(conn, flavor);
  if (replica.ok) {
    properties.replica = replica.status;
  } else {
    findings.push(replicaStatusFinding(replica.error, target, server));
  }

  const grants = await optional(() => readGrants(conn), warn(`grants of user "${target.username}" on ${server}`));
  if (grants) findings.push(...privilegeFindings(grants, target, server));

  // Schema names are cheap; sizes and table counts are last, time-boxed, and may be given up on.
  const schemas = await readSchemas(conn);
  const sizes = await readSchemaSizes(conn.connection, session, budget, flavor, version, target, warnings);

  const instance: CollectedInstance = {
    name: `${target.host}:${target.port ?? DEFAULT_PORT}`,
    host: target.host,
    port: target.port ?? DEFAULT_PORT,
    version,
    properties,
    databases: schemaDatabases(schemas, sizes),
    findings,
  };
  return { instances: [instance], warnings };
}
