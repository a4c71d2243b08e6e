/**
 * Once per test run: the password-checking PostgreSQL cluster that tests reach by
 * `inject('pgAuthPort')`, and the OpenLDAP server of the directory-login tests, `inject('slapd')`.
 */
import type { TestProject } from 'vitest/node';
import { startAuthCluster, type AuthCluster } from './support/pg-auth-cluster.ts';
import { startSlapd, type Slapd, type SlapdInfo } from './support/slapd.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAuthPort: number;
    /** The directory server, or why it could not start (its tests fail with that; the rest run). */
    slapd: SlapdInfo | { unavailable: string };
  }
}

let cluster: AuthCluster | undefined;
let slapd: Slapd | undefined;

export async function setup(project: TestProject): Promise<void> {
  const [pgResult, slapdResult] = await Promise.allSettled([startAuthCluster(), startSlapd()]);
  if (slapdResult.status === 'fulfilled') slapd = slapdResult.value;
  if (pgResult.status === 'rejected') {
    await slapd?.stop();
    throw pgResult.reason;
  }
  cluster = pgResult.value;
  project.provide('pgAuthPort', cluster.port);
  project.provide('slapd', slapd ? slapd.info() : { unavailable: String((slapdResult as PromiseRejectedResult).reason) });
}

export async function teardown(): Promise<void> {
  cluster?.stop();
  await slapd?.stop();
}
