/**
 * MySQL / MariaDB inventory collector: one server is one instance; its schemas are the
 * databases. Reads only information_schema, server variables and the login's own grants, so a
 * login with SELECT on the schemas of interest is enough; what it may not see is left out and
 * reported as a finding or warning, not a failure.
 *
 * One connection per run. The whole run is raced against the deadline and the abort signal
 * (Guard), and whichever ends it drops the connection at once (Session).
 */

import type { Collector, CollectorInfo, CollectOptions, CollectResult, CollectTarget } from '../types.ts';
import { CHECKS, testConnection } from './connection-test.ts';
import { classifyMysqlError } from './errors.ts';
import { collectInventory } from './inventory.ts';
import { DEFAULT_PORT, Guard, mysqlBudget, Session, withDefaultPort } from './session.ts';

const mysqlInfo: CollectorInfo = {
  type: 'mysql',
  displayName: 'MySQL/MariaDB',
  group: 'databases',
  defaultPort: DEFAULT_PORT,
  // MySQL's schemas are its databases (CREATE SCHEMA is CREATE DATABASE).
  childTypes: ['database'],
  identityKinds: ['password'],
  tls: true,
  checks: Object.entries(CHECKS).map(([name, description]) => ({ name, description })),
};

export const mysqlCollector: Collector = {
  info: mysqlInfo,
  applicationType: mysqlInfo.type,

  async collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult> {
    // Messages and the instance name use the effective port, so fill in the default once.
    const where = withDefaultPort(target);
    const budget = mysqlBudget(options.timeoutMs);
    const session = new Session(where, budget);
    const guard = new Guard(options, where, 'collection from', () => session.dropNow());
    let succeeded = false;
    try {
      const result = await guard.run(collectInventory(session, budget, where));
      succeeded = true;
      return result;
    } catch (err) {
      throw classifyMysqlError(err, where);
    } finally {
      guard.dispose();
      await session.close(succeeded);
    }
  },

  test: testConnection,
};
