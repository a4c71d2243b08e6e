/**
 * The columns that hold values sealed with the secret box, and the two things `census rotate-key`
 * does to each: walk its values in id order, and replace one only if it is still what was read.
 * One place for every sealed column, so a new one is one line in SEALED_COLUMNS.
 */
import { sql } from 'kysely';
import type { Db } from './rows.ts';

export const SEALED_COLUMNS = [
  { what: 'identity', table: 'identities', column: 'secret' },
  { what: 'directory', table: 'directories', column: 'bind_secret' },
  { what: 'SMTP server', table: 'smtp_servers', column: 'password' },
  { what: 'webhook', table: 'webhooks', column: 'secret' },
] as const;

export type SealedColumn = (typeof SEALED_COLUMNS)[number];

export class SealedRepository {
  constructor(private db: Db) {}

  /** Up to `limit` sealed values of `c` with ids above `afterId`, in id order (none where the column is empty). */
  async after(c: SealedColumn, afterId: number, limit: number): Promise<{ id: number; secret: string }[]> {
    const r = await sql<{ id: number; secret: string }>`SELECT id, ${sql.ref(c.column)} AS secret FROM ${sql.table(c.table)}
      WHERE id > ${afterId} AND ${sql.ref(c.column)} IS NOT NULL ORDER BY id LIMIT ${limit}`.execute(this.db);
    return r.rows.map((row) => ({ id: Number(row.id), secret: row.secret }));
  }

  /** Replaces a sealed value only if it is still `was`; false when it changed or went meanwhile. */
  async replace(c: SealedColumn, id: number, was: string, now: string): Promise<boolean> {
    const r = await sql`UPDATE ${sql.table(c.table)} SET ${sql.ref(c.column)} = ${now} WHERE id = ${id} AND ${sql.ref(c.column)} = ${was}`.execute(this.db);
    return Number(r.numAffectedRows ?? 0) === 1;
  }
}
