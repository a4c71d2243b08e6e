/** Once per test run: the password-checking PostgreSQL cluster that tests reach by `inject('pgAuthPort')`. */
import type { TestProject } from 'vitest/node';
import { startAuthCluster, type AuthCluster } from './support/pg-auth-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAuthPort: number;
  }
}

let cluster: AuthCluster | undefined;

export async function setup(project: TestProject): Promise<void> {
  cluster = await startAuthCluster();
  project.provide('pgAuthPort', cluster.port);
}

export async function teardown(): Promise<void> {
  cluster?.stop();
}
