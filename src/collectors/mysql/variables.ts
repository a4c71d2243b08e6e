/**
 * The server variables the collector reads, and what they say: which flavour the server is,
 * whether binary logging is on, and how GTIDs are set up.
 */

import { rows, text, type Reads } from './reads.ts';

/** Server variables read in one SHOW (absent ones simply do not come back, on any version). */
const VARIABLES = [
  'version_comment',
  'log_bin',
  'binlog_format',
  'gtid_mode', // MySQL 5.6+
  'gtid_strict_mode', // MariaDB 10.0+
  'gtid_current_pos', // MariaDB 10.0+
  'server_id',
  'datadir',
] as const;
export type Variables = Partial<Record<(typeof VARIABLES)[number], string>>;

export type Flavor = 'MariaDB' | 'MySQL';

export const VARIABLES_SQL = `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${VARIABLES.map((v) => `'${v}'`).join(', ')})`;

export async function readVariables(conn: Reads): Promise<Variables> {
  const result: Record<string, string> = {};
  for (const row of await rows(conn, VARIABLES_SQL)) {
    const name = text(row, 'Variable_name');
    const value = text(row, 'Value');
    if (name !== null && value !== null) result[name.toLowerCase()] = value;
  }
  return result as Variables;
}

export function flavorOf(version: string, versionComment: string | undefined): Flavor {
  return /mariadb/i.test(version) || /mariadb/i.test(versionComment ?? '') ? 'MariaDB' : 'MySQL';
}

/** log_bin is "ON"/"OFF" through SHOW VARIABLES (and 1/0 through @@log_bin). */
export function onOff(value: string | undefined): boolean | null {
  if (value === undefined) return null;
  return /^(on|1|true|yes)$/i.test(value.trim());
}

/**
 * MySQL has a switch, gtid_mode (OFF, OFF_PERMISSIVE, ON_PERMISSIVE, ON), reported as is.
 * MariaDB (10.0+) has none: every transaction it writes to the binary log or replicates gets a
 * GTID. What tells something there is whether a GTID position exists, so for MariaDB gtidMode is
 * "ON" when @@gtid_current_pos is non-empty (GTIDs have been logged or replicated, and a replica
 * or a point-in-time restore can start from that position) and "OFF" when it is empty; the
 * position itself and gtid_strict_mode (refuse out-of-order GTIDs) are reported beside it.
 */
export function gtidProperties(flavor: Flavor, vars: Variables): Record<string, unknown> {
  if (flavor === 'MySQL') return { gtidMode: vars.gtid_mode ?? null };
  if (vars.gtid_current_pos === undefined && vars.gtid_strict_mode === undefined) return { gtidMode: null };
  const position = vars.gtid_current_pos ?? '';
  return {
    gtidMode: position.trim() === '' ? 'OFF' : 'ON',
    gtidCurrentPos: position,
    gtidStrictMode: onOff(vars.gtid_strict_mode),
  };
}
