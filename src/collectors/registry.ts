/**
 * Every collector Census has. Adding one is one line in COLLECTORS; everything else (the engine's
 * lookup, registration's check, the API's list that drives the CLI and the web UI) reads it here.
 */
import { fileCollector } from './file/index.ts';
import { kvmCollector } from './kvm/index.ts';
import { mysqlCollector } from './mysql/index.ts';
import { postgresqlCollector } from './postgresql/index.ts';
import { redisCollector } from './redis/index.ts';
import type { Collector, CollectorInfo } from './types.ts';
import { vmwareCollector } from './vmware/index.ts';

const COLLECTORS: readonly Collector[] = [
  postgresqlCollector,
  mysqlCollector,
  fileCollector,
  redisCollector,
  kvmCollector,
  vmwareCollector,
];

/** The collectors by their type, in registration order; refuses two with one type. */
export function collectorRegistry(list: readonly Collector[] = COLLECTORS): ReadonlyMap<string, Collector> {
  const byType = new Map<string, Collector>();
  for (const c of list) {
    if (c.applicationType !== c.info.type) throw new Error(`collector "${c.info.type}" has applicationType "${c.applicationType}"`);
    if (byType.has(c.info.type)) throw new Error(`two collectors have the type "${c.info.type}"`);
    byType.set(c.info.type, c);
  }
  return byType;
}

/** What the collectors are, for the API (which may not import collector modules). */
export const collectorInfos = (registry: ReadonlyMap<string, Collector>): readonly CollectorInfo[] => [...registry.values()].map((c) => c.info);
