/**
 * PostgreSQL inventory collector: one server (cluster) is one instance; its non-template
 * databases are the databases. Reads only catalog views and settings, so a plain login role is
 * enough; what the role may not see is left out and reported as a warning or a readiness
 * finding, not a failure.
 */

import type { Collector, CollectorInfo, CollectOptions, CollectResult, CollectTarget, ConnectionCheck } from '../types.ts';
import { PG_CHECKS, testConnection } from './connection-test.ts';
import { classifyPgError } from './errors.ts';
import { collectInventory } from './inventory.ts';
import { cancelled, DEFAULT_PORT, pgBudget, Session, withDefaultPort, withinDeadline } from './session.ts';

const ACTIVITY = 'collection from';

const postgresqlInfo: CollectorInfo = {
  type: 'postgresql',
  displayName: 'PostgreSQL',
  group: 'databases',
  defaultPort: DEFAULT_PORT,
  childTypes: ['database'],
  identityKinds: ['password'],
  tls: true,
  keptForNextRun: { instance: ['catalog', 'quietXid'], child: ['changeSignal'] },
  checks: Object.entries(PG_CHECKS).map(([name, description]) => ({ name, description })),
};

export const postgresqlCollector: Collector = {
  info: postgresqlInfo,
  applicationType: postgresqlInfo.type,

  async collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult> {
    const where = withDefaultPort(target);
    if (options.signal.aborted) throw cancelled(where, ACTIVITY);

    const budget = pgBudget(options.timeoutMs);
    const session = new Session(where, budget);
    let succeeded = false;
    try {
      const result = await withinDeadline(collectInventory(session, budget, where, options.previous, options.shared), budget, options.signal, where, ACTIVITY);
      succeeded = true;
      return result;
    } catch (err) {
      throw classifyPgError(err, where);
    } finally {
      await session.close(succeeded);
    }
  },

  test(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]> {
    return testConnection(target, options);
  },
};
