/**
 * A registered estate and its history, written straight into a Census database with bulk SQL:
 * application servers with their instances and databases, a year of daily inventory sessions of
 * job 1004 with one task per server, log entries for the recent sessions, and the change history
 * those sessions recorded. For the read benchmark (bench/reads) and the web UI's scale test
 * (test/ui/estate-scale.test.ts).
 *
 * Honest shapes: the schema and indexes are the product's (the store is opened with Store.open,
 * so the real migrations ran), rows carry what the engine writes (the same message ids and
 * parameters, task per server, session per day, logs per task), and the system jobs are the
 * product's own (store.jobs.ensure, as the engine does at its first start). Only the speed is not
 * the product's: one INSERT … SELECT per table instead of a year of inventories.
 */
import { sql, type RawBuilder } from 'kysely';
import { SecretBox } from '../../src/core/secret-box.ts';
import { message } from '../../src/engine/messages.ts';
import { nextFireTime } from '../../src/engine/schedule.ts';
import { INVENTORY_JOB_ID, MAINTENANCE_JOB_ID, SYSTEM_JOBS } from '../../src/engine/system-jobs.ts';
import type { Store } from '../../src/store/index.ts';

export const DAY = 86_400_000;

export interface EstateOptions {
  /** Application servers to register (half PostgreSQL, half MySQL). */
  servers: number;
  /** Databases per instance (one instance per server). */
  databasesPerInstance?: number;
  /** Daily sessions of job 1004 to keep (0: none), the newest ending `now`. */
  days?: number;
  /** How many of the newest sessions have their log entries (older ones keep only tasks). */
  logDays?: number;
  /** Servers whose inventory changes each day (a size change of one database each). */
  changesPerDay?: number;
  /** The time the newest session ended (default: now). */
  now?: number;
  /** Seals the servers' password (the server's own key): tasks that run later can log in. */
  box: SecretBox;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface Estate {
  servers: number;
  instances: number;
  databases: number;
  sessionIds: number[];
  /** The newest session: one task per server, with its log entries. */
  bigSessionId: number | null;
  tasks: number;
  logs: number;
  changes: number;
  /** A server with change history, its instance and one of its databases. */
  sample: { appserverId: number; instanceId: number; databaseId: number; applicationType: string };
  seconds: number;
}

/** PostgreSQL's and SQLite's spelling of the few things that differ. */
function dialectWords(dialect: 'sqlite' | 'postgres') {
  const pg = dialect === 'postgres';
  return {
    /** Rows 0 … n-1 as `s(i)`: a FROM item. */
    series: (n: number): RawBuilder<unknown> =>
      pg ? sql`generate_series(0, ${sql.lit(n - 1)}) AS s(i)` : sql`(WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < ${sql.lit(n - 1)}) SELECT i FROM r) AS s`,
    /** 24 hex characters from two whole numbers (as core/ids.ts newLogId: seconds, then 8 bytes). */
    logId: (seconds: RawBuilder<unknown>, n: RawBuilder<unknown>): RawBuilder<unknown> =>
      pg ? sql`lpad(to_hex(${seconds}), 8, '0') || lpad(to_hex(${n}), 16, '0')` : sql`printf('%08x%016x', ${seconds}, ${n})`,
    /** Names joined with ', ' (the CNSJ0002 message lists them all, as the engine writes it). */
    joined: (col: RawBuilder<unknown>): RawBuilder<unknown> => (pg ? sql`string_agg(${col}, ', ' ORDER BY id)` : sql`group_concat(${col}, ', ')`),
    /** JSON array text of string expressions. */
    jsonArray: (parts: RawBuilder<unknown>[]): RawBuilder<unknown> =>
      pg ? sql`json_build_array(${sql.join(parts)})::text` : sql`json_array(${sql.join(parts)})`,
    text: (e: RawBuilder<unknown>): RawBuilder<unknown> => sql`CAST(${e} AS TEXT)`,
  };
}

/** A message's text with its placeholders as SQL: {0} … {n} filled by the given expressions. */
function messageSql(id: string, params: RawBuilder<unknown>[]): RawBuilder<unknown> {
  // Render with markers, then split on them: the template is the product's (engine/messages.ts).
  const marked = message('INFO', id as never, ...params.map((_, i) => `\u0000${i}\u0000`)).message;
  const parts = marked.split(/\u0000(\d+)\u0000/);
  const out: RawBuilder<unknown>[] = [];
  parts.forEach((p, i) => out.push(i % 2 === 0 ? sql.lit(p) : sql`CAST(${params[Number(p)]!} AS TEXT)`));
  return sql.join(out, sql` || `);
}

/**
 * Writes the estate into `store` (fresh: no servers yet). Returns what it wrote. The system jobs
 * are ensured first; job 1001 keeps sessions for `days` + 1 days, so maintenance keeps them all.
 */
export async function generateEstate(store: Store, o: EstateOptions): Promise<Estate> {
  const t0 = performance.now();
  const w = dialectWords(store.dialect);
  const say = o.log ?? (() => {});
  const now = o.now ?? Date.now();
  const days = o.days ?? 0;
  const logDays = Math.min(o.logDays ?? 0, days);
  const perInstance = o.databasesPerInstance ?? 3;
  const changesPerDay = o.changesPerDay ?? 0;
  const db = store.db;

  for (const job of SYSTEM_JOBS) await store.jobs.ensure({ ...job, nextFireTime: job.schedule && nextFireTime(job.schedule, now) });
  const maintenance = (await store.jobs.get(MAINTENANCE_JOB_ID))!;
  await store.jobs.setOptions(MAINTENANCE_JOB_ID, { ...maintenance.options, retentionDays: Math.max(365, days + 1) });
  const inventory = (await store.jobs.get(INVENTORY_JOB_ID))!;

  const identity = await store.identities.create({
    name: 'estate', username: 'census', secret: o.box.seal('estate-password'), type: 'user', ostype: 'linux', comment: null, createdAt: now - (days + 1) * DAY, kind: 'password',
  });

  const started = now - (days + 1) * DAY;
  await db.transaction().execute(async (tx) => {
    const n = o.servers;
    // Servers: pg-00001 … on 10.x.y.z:5432 and my-00002 … on :3306, alternating.
    await sql`INSERT INTO appservers (name, host_address, port_number, application_type, os_type, identity_id, comment, use_key_authentication, max_concurrency, created_at, tls_mode, site_id)
      SELECT CASE WHEN i % 2 = 0 THEN 'pg-' ELSE 'my-' END || ${w.text(sql`i + 1`)},
             '10.' || ${w.text(sql`(i / 65536) % 256`)} || '.' || ${w.text(sql`(i / 256) % 256`)} || '.' || ${w.text(sql`i % 256`)},
             CASE WHEN i % 2 = 0 THEN 5432 ELSE 3306 END, CASE WHEN i % 2 = 0 THEN 'postgresql' ELSE 'mysql' END, 'linux', ${identity.id}, NULL, 0, 10,
             ${started} + i, 'disable', 1000
      FROM ${w.series(n)}`.execute(tx);
    say(`  ${n} application servers`);
    await sql`INSERT INTO instances (appserver_id, application_type, name, host, port, version, properties, first_seen, last_seen, missing, last_session_id, findings)
      SELECT id, application_type, host_address || ':' || ${w.text(sql`port_number`)}, host_address, port_number,
             CASE WHEN application_type = 'postgresql' THEN '16.4' ELSE '10.11.6' END, '{}', ${started}, ${now}, 0, NULL, '[]'
      FROM appservers`.execute(tx);
    await sql`INSERT INTO databases (instance_id, name, size_bytes, owner, encoding, properties, first_seen, last_seen, missing, findings, object_type)
      SELECT inst.id, 'db' || ${w.text(sql`s.i`)}, 8000000 + (inst.id % 1000) * 4096 + s.i, 'census', 'UTF8', '{}', ${started}, ${now}, 0, '[]', 'database'
      FROM instances inst CROSS JOIN ${w.series(perInstance)}`.execute(tx);
    say(`  ${n} instances, ${n * perInstance} databases`);

    if (days > 0) {
      // One session a day at midnight; each ran for 30 minutes. The newest ends at `now`.
      const first = now - days * DAY - 30 * 60_000;
      const sessionStart = (d: RawBuilder<unknown>) => sql`${first} + ${d} * ${DAY}`;
      await sql`INSERT INTO job_sessions (id, job_id, job_name, type, sub_type, service_id, status, start, "end", last_update, num_tasks, percent, results, trigger, cancel_requested, statistics, scope)
        SELECT ${sessionStart(sql`s.i`)}, ${inventory.id}, ${inventory.name}, ${inventory.type}, ${inventory.subType}, ${inventory.serviceId}, 'COMPLETED',
               ${sessionStart(sql`s.i`)}, ${sessionStart(sql`s.i`)} + 1800000, ${sessionStart(sql`s.i`)} + 1800000, ${n}, 100, 'COMPLETED', 'SCHEDULED', 0,
               '[{"resourceType":"appserver","total":' || ${w.text(sql.lit(n))} || ',"success":' || ${w.text(sql.lit(n))} || ',"failed":0,"skipped":0}]', '[]'
        FROM ${w.series(days)}`.execute(tx);
      // One task per server per session, spread over the session's 30 minutes.
      await sql`INSERT INTO tasks (session_id, appserver_id, target_kind, target_id, name, status, start, "end", attempts)
        SELECT js.id, a.id, 'appserver', ${w.text(sql`a.id`)}, a.name, 'COMPLETED', js.start + (a.id % 1700) * 1000, js.start + (a.id % 1700) * 1000 + 700, 1
        FROM job_sessions js CROSS JOIN appservers a WHERE js.job_id = ${inventory.id}`.execute(tx);
      say(`  ${days} sessions, ${days * n} tasks`);

      // Log entries of the newest sessions: the session's start lines, two per task, its summary.
      const recent = sql`(SELECT id FROM job_sessions WHERE job_id = ${inventory.id} ORDER BY id DESC LIMIT ${sql.lit(logDays)})`;
      if (logDays > 0) {
        const names = sql`(SELECT ${w.joined(sql`name`)} FROM appservers)`;
        // seq-based ids: seconds of the entry, then a counter unique per row (session id * 4 + which).
        await sql`INSERT INTO logs (id, session_id, job_id, task_id, log_time, type, message_id, message_params, message)
          SELECT ${w.logId(sql`js.start / 1000`, sql`js.id * 4`)}, js.id, js.job_id, NULL, js.start, 'INFO', 'CNSJ0002',
                 ${w.jsonArray([w.text(sql.lit(n)), names])}, ${messageSql('CNSJ0002', [sql.lit(n), names])}
          FROM job_sessions js WHERE js.id IN ${recent}`.execute(tx);
        for (const [which, id, at, params] of [
          [1, 'CNSI0100', sql`t.start`, [sql`t.name`, sql`a.host_address`, sql`a.application_type`, sql.lit(1)]],
          [2, 'CNSI0101', sql`t."end"`, [sql`t.name`, sql.lit(1), sql.lit(perInstance), sql`inst.version`]],
        ] as const) {
          const ps = params as unknown as RawBuilder<unknown>[];
          await sql`INSERT INTO logs (id, session_id, job_id, task_id, log_time, type, message_id, message_params, message)
            SELECT ${w.logId(sql`${at} / 1000`, sql`t.id * 4 + ${sql.lit(which)}`)}, t.session_id, ${inventory.id}, t.id, ${at}, 'INFO', ${id},
                   ${w.jsonArray(ps.map((p) => w.text(p)))}, ${messageSql(id, ps)}
            FROM tasks t JOIN appservers a ON a.id = t.appserver_id JOIN instances inst ON inst.appserver_id = a.id
            WHERE t.session_id IN ${recent}`.execute(tx);
        }
        await sql`INSERT INTO logs (id, session_id, job_id, task_id, log_time, type, message_id, message_params, message)
          SELECT ${w.logId(sql`js."end" / 1000`, sql`js.id * 4 + 3`)}, js.id, js.job_id, NULL, js."end", 'SUMMARY', 'CNSJ0010',
                 ${w.jsonArray([sql.lit(inventory.name), sql.lit('COMPLETED'), w.text(sql.lit(n)), w.text(sql.lit(n)), sql.lit('0'), sql.lit('0'), sql.lit('1800')])},
                 ${messageSql('CNSJ0010', [sql.lit(inventory.name), sql.lit('COMPLETED'), sql.lit(n), sql.lit(n), sql.lit(0), sql.lit(0), sql.lit(1800)])}
          FROM job_sessions js WHERE js.id IN ${recent}`.execute(tx);
      }

      // Each day some servers' first database grew past the size threshold: one change each.
      if (changesPerDay > 0) {
        await sql`INSERT INTO inventory_changes (session_id, appserver_id, object_type, object_id, object_name, parent_name, change, field, old_value, new_value, recorded_at)
          SELECT js.id, inst.appserver_id, 'database', d.id, d.name, inst.name, 'changed', 'sizeBytes', '8000000', '9000000', js.start + 60000
          FROM job_sessions js
          JOIN instances inst ON (inst.appserver_id + js.id / ${DAY}) % ${sql.lit(Math.max(1, Math.floor(n / changesPerDay)))} = 0
          JOIN databases d ON d.instance_id = inst.id AND d.name = 'db0'
          WHERE js.job_id = ${inventory.id}`.execute(tx);
      }
      await sql`UPDATE instances SET last_session_id = (SELECT max(id) FROM job_sessions WHERE job_id = ${inventory.id})`.execute(tx);
      await sql`UPDATE jobs SET last_session_id = (SELECT max(id) FROM job_sessions WHERE job_id = ${inventory.id}) WHERE id = ${inventory.id}`.execute(tx);
    }
  });

  const count = async (table: string) => Number((await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(db)).rows[0]!.n);
  const sessionIds = (await sql<{ id: number }>`SELECT id FROM job_sessions WHERE job_id = ${inventory.id} ORDER BY id`.execute(db)).rows.map((r) => Number(r.id));
  // The sample: the server with the most changes (ties: the lowest id).
  const sample = (await sql<{ appserverId: number; instanceId: number; databaseId: number; applicationType: string }>`
    SELECT a.id AS appserver_id, inst.id AS instance_id, d.id AS database_id, a.application_type
    FROM appservers a JOIN instances inst ON inst.appserver_id = a.id JOIN databases d ON d.instance_id = inst.id AND d.name = 'db0'
    ORDER BY (SELECT count(*) FROM inventory_changes c WHERE c.object_type = 'database' AND c.object_id = d.id) DESC, a.id LIMIT 1`.execute(db)).rows[0]!;
  // PostgreSQL's autovacuum analyzes bulk-loaded tables within a minute: do it now rather than
  // measure its first minute. Census never runs ANALYZE on SQLite, so neither does this.
  if (store.dialect === 'postgres') await sql`ANALYZE`.execute(db);
  const estate: Estate = {
    servers: await count('appservers'),
    instances: await count('instances'),
    databases: await count('databases'),
    sessionIds,
    bigSessionId: sessionIds.at(-1) ?? null,
    tasks: await count('tasks'),
    logs: await count('logs'),
    changes: await count('inventory_changes'),
    sample: { appserverId: Number(sample.appserverId), instanceId: Number(sample.instanceId), databaseId: Number(sample.databaseId), applicationType: sample.applicationType },
    seconds: (performance.now() - t0) / 1000,
  };
  say(`  ${estate.logs} log entries, ${estate.changes} changes; ${estate.seconds.toFixed(1)} s`);
  return estate;
}
