/**
 * How the catalog part of a PostgreSQL reading (catalog.ts `Catalog`) is kept with the instance,
 * in its `properties.catalog`, so that the next run can carry it over when its signal has not
 * moved (docs/inventory.md): plain JSON, written only after a full reading under that signal.
 *
 * Nothing in it is secret. An archive command or library may hold a credential (a bucket key in
 * a command line), and the inventory only ever asks whether one is set: that is all that is kept
 * of them.
 */
import type { Catalog, DatabaseRow, LoginRole, Setting, SettingName, TablespaceRow } from './catalog.ts';

/** Bumped whenever what is kept, or how the signal is made, changes: an older carry never matches. */
export const CATALOG_SIGNAL_VERSION = 'pgc1';

export interface CatalogCarry {
  signal: string;
  settings: [SettingName, string, string | null][];
  role: LoginRole;
  rolesCount: number;
  tablespaces: TablespaceRow[];
  databases: DatabaseRow[];
  dbSettings: [number, string[]][] | null;
}

const KEPT_AS_SET: ReadonlySet<SettingName> = new Set(['archive_command', 'archive_library']);
const SET = 'set';

export function carryOf(signal: string, c: Catalog): CatalogCarry {
  return {
    signal,
    settings: [...c.settings].map(([name, s]) => (KEPT_AS_SET.has(name) ? [name, '', s.configured ? SET : null] : [name, s.setting, s.configured])),
    role: c.role,
    rolesCount: c.rolesCount,
    tablespaces: c.tablespaces,
    databases: c.databases,
    dbSettings: c.dbSettings && [...c.dbSettings],
  };
}

/**
 * The catalog kept in `stored` if it was read under exactly `signal`; null otherwise, and for
 * anything that is not a carry this version wrote (then the catalog is read again).
 */
export function catalogFromCarry(stored: unknown, signal: string): Catalog | null {
  if (!isCarry(stored) || stored.signal !== signal) return null;
  return {
    settings: new Map(stored.settings.map(([name, setting, configured]): [SettingName, Setting] => [name, { setting, configured }])),
    role: stored.role,
    rolesCount: stored.rolesCount,
    tablespaces: stored.tablespaces,
    databases: stored.databases,
    dbSettings: stored.dbSettings && new Map(stored.dbSettings),
  };
}

function isCarry(x: unknown): x is CatalogCarry {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Partial<CatalogCarry>;
  return typeof c.signal === 'string' && Array.isArray(c.settings) && typeof c.role === 'object' && c.role !== null
    && typeof c.rolesCount === 'number' && Array.isArray(c.tablespaces) && Array.isArray(c.databases)
    && (c.dbSettings === null || Array.isArray(c.dbSettings));
}
