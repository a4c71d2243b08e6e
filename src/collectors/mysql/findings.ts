/**
 * Readiness findings: what stands in the way of backing the server up or restoring it to a point
 * in time. The connection test words the same rules as its warnings.
 */

import { errorMessage } from '../network-errors.ts';
import type { CollectTarget, ReadinessFinding } from '../types.ts';
import { isPermissionError } from './errors.ts';
import { backupPrivilegeGap, parseGrants } from './grants.ts';

export function binaryLogFindings(binaryLog: boolean | null, format: string | undefined, server: string): ReadinessFinding[] {
  if (binaryLog === false) {
    return [
      {
        code: 'BINARY_LOG_OFF',
        message: `binary logging is off on ${server} (log_bin): point-in-time recovery is impossible, only restores to the time of a backup`,
      },
    ];
  }
  if (binaryLog === true && format?.toUpperCase() === 'STATEMENT') {
    return [
      {
        code: 'BINLOG_FORMAT_NOT_ROW',
        message: `binlog_format is STATEMENT on ${server}: replaying the binary log for point-in-time recovery may not reproduce non-deterministic statements; ROW is safe`,
      },
    ];
  }
  return [];
}

/** The server refused SHOW ... STATUS (`error`), so whether it replicates is unknown. */
export function replicaStatusFinding(error: unknown, target: CollectTarget, server: string): ReadinessFinding {
  const why = isPermissionError(error)
    ? `user "${target.username}" lacks the privilege (REPLICATION CLIENT on MySQL, SLAVE MONITOR on MariaDB 10.5+)`
    : 'the server refused the statement';
  return {
    code: 'REPLICA_STATUS_NOT_READABLE',
    message: `replication status of ${server} is not readable: ${why}: ${errorMessage(error, target)}`,
  };
}

/** The global privileges backup tools need that the login's grants lack, if any. */
export function privilegeFindings(grants: readonly string[], target: CollectTarget, server: string): ReadinessFinding[] {
  const gap = backupPrivilegeGap(parseGrants(grants));
  if (gap.missing.length === 0) return [];
  return [{ code: 'MISSING_PRIVILEGE', message: `user "${target.username}" on ${server} ${gap.explanation}` }];
}
