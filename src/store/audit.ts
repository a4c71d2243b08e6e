/**
 * The audit log (issue 11): who did what, when, from where, and how it ended. Rows are only ever
 * added; the one way out is age (deleteBefore, run by the maintenance job).
 */
import type { ListQuery, ListResult } from '../core/query.ts';
import { json, listPage, type Db, type ServerScope } from './rows.ts';

export type AuditOutcome = 'success' | 'failure';

export interface NewAuditEntry {
  at: number;
  userId: number | null;
  userName: string;
  address: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  targetName: string | null;
  outcome: AuditOutcome;
  /** What else is worth knowing (field names changed, an error's code); never a secret. */
  detail: Record<string, unknown> | null;
}

export interface AuditEntry extends NewAuditEntry {
  id: number;
}

interface Row {
  id: number | string;
  at: number | string;
  userId: number | null;
  userName: string;
  address: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  targetName: string | null;
  outcome: string;
  detail: string | null;
}

const toEntry = (r: Row): AuditEntry => ({
  id: Number(r.id),
  at: Number(r.at),
  userId: r.userId === null ? null : Number(r.userId),
  userName: r.userName,
  address: r.address,
  action: r.action,
  targetType: r.targetType,
  targetId: r.targetId,
  targetName: r.targetName,
  outcome: r.outcome === 'success' ? 'success' : 'failure',
  detail: json<Record<string, unknown> | null>(r.detail, null),
});

export class AuditRepository {
  constructor(private readonly db: Db) {}

  async add(e: NewAuditEntry): Promise<void> {
    await this.db.insertInto('auditLog').values({ ...e, detail: e.detail ? JSON.stringify(e.detail) : null }).execute();
  }

  /**
   * Entries matching the query; with a scope, entries about application servers outside it are
   * left out (a reader limited to resource groups learns nothing of the other servers).
   */
  list(q: ListQuery, scope: ServerScope = 'all'): Promise<ListResult<AuditEntry>> {
    let base = this.db.selectFrom('auditLog');
    if (scope !== 'all') {
      const ids = [...scope].map(String);
      base = base.where((eb) => eb.or([
        eb('targetType', 'is', null),
        eb('targetType', '!=', 'appserver'),
        ...(ids.length ? [eb('targetId', 'in', ids)] : []),
      ]));
    }
    return listPage(base, q, 'id', toEntry);
  }

  /** Removes entries older than `cutoff` (epoch ms); returns how many went. */
  async deleteBefore(cutoff: number): Promise<number> {
    const r = await this.db.deleteFrom('auditLog').where('at', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
