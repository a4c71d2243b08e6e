/**
 * Reads the lines of SHOW GRANTS and says which privileges backup tools need that the login
 * lacks. Only the login's own grants are seen: privileges that come through roles
 * (GRANT `role` TO user) are not expanded, so when the login holds roles the message says so
 * instead of claiming the privilege is certainly missing.
 */

export interface GrantSummary {
  /** Privileges granted ON *.* (upper case, "ALL" for ALL [PRIVILEGES]). */
  global: Set<string>;
  /** Privileges granted ON `schema`.*, by schema name (as written, may hold wildcards). */
  bySchema: Map<string, Set<string>>;
  /** Roles granted to the login. */
  roles: string[];
}

/**
 * What mysqldump, mariabackup and xtrabackup need at the global level, and which grants satisfy
 * each. MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG MONITOR (the old name is an alias, and
 * SHOW GRANTS prints the new one); SUPER also lets a login read the binary log position.
 */
const BACKUP_PRIVILEGES: ReadonlyArray<{ name: string; satisfiedBy: readonly string[]; why: string }> = [
  { name: 'RELOAD', satisfiedBy: ['RELOAD'], why: 'FLUSH TABLES WITH READ LOCK / FLUSH LOGS' },
  { name: 'LOCK TABLES', satisfiedBy: ['LOCK TABLES'], why: 'consistent copies of non-transactional tables' },
  {
    name: 'REPLICATION CLIENT',
    satisfiedBy: ['REPLICATION CLIENT', 'BINLOG MONITOR', 'SUPER'],
    why: 'the binary log position for point-in-time recovery',
  },
  { name: 'PROCESS', satisfiedBy: ['PROCESS'], why: 'physical backups and tablespace information' },
];

const GRANT_ON = /^GRANT\s+(.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE|PACKAGE\s+BODY|PACKAGE)\s+)?(\S+)\s+TO\s/is;
const GRANT_ROLE = /^GRANT\s+(.+?)\s+TO\s/is;

/** "`db`.*" → "db"; "*.*" → "*"; "`db`.`t`" → null (table level, not interesting here). */
function schemaOf(object: string): string | null {
  if (object === '*.*' || object === '*') return '*';
  const match = /^(`(?:[^`]|``)*`|'[^']*'|"[^"]*"|[^.]+)\.\*$/.exec(object);
  if (!match?.[1]) return null;
  const quoted = match[1];
  const first = quoted[0];
  if (first === '`') return quoted.slice(1, -1).replace(/``/g, '`');
  if (first === "'" || first === '"') return quoted.slice(1, -1);
  return quoted;
}

/** Split "SELECT (`a`, `b`), INSERT" on the commas outside parentheses and normalise each name. */
function privilegesOf(list: string): string[] {
  const names: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      names.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  names.push(current);
  return names
    .map((name) => name.replace(/\(.*\)/s, '').replace(/\s+/g, ' ').trim().toUpperCase())
    .filter((name) => name.length > 0)
    .map((name) => (name === 'ALL PRIVILEGES' ? 'ALL' : name));
}

export function parseGrants(lines: readonly string[]): GrantSummary {
  const summary: GrantSummary = { global: new Set(), bySchema: new Map(), roles: [] };
  for (const line of lines) {
    const grant = GRANT_ON.exec(line);
    if (grant?.[1] !== undefined && grant[2] !== undefined) {
      const schema = schemaOf(grant[2]);
      if (schema === null) continue;
      const privileges = privilegesOf(grant[1]);
      if (schema === '*') {
        for (const p of privileges) summary.global.add(p);
      } else {
        const held = summary.bySchema.get(schema) ?? new Set<string>();
        for (const p of privileges) held.add(p);
        summary.bySchema.set(schema, held);
      }
      continue;
    }
    const role = GRANT_ROLE.exec(line);
    if (role?.[1] !== undefined && !/^PROXY\b/i.test(role[1])) {
      summary.roles.push(...role[1].split(',').map((r) => r.trim()).filter((r) => r.length > 0));
    }
  }
  return summary;
}

export interface PrivilegeGap {
  /** Names of the missing privileges, e.g. ["RELOAD", "PROCESS"]; empty when nothing is missing. */
  missing: string[];
  /** For people: what is missing, what for, and caveats (schema-level grants, roles). */
  explanation: string;
}

export function backupPrivilegeGap(summary: GrantSummary): PrivilegeGap {
  const has = (names: readonly string[]) => summary.global.has('ALL') || names.some((n) => summary.global.has(n));
  const lacking = BACKUP_PRIVILEGES.filter((p) => !has(p.satisfiedBy));
  const missing = lacking.map((p) => p.name);
  if (lacking.length === 0) return { missing, explanation: '' };

  const parts = lacking.map((p) => {
    let text = `${p.name} (${p.why})`;
    if (p.name === 'LOCK TABLES') {
      const schemas = [...summary.bySchema].filter(([, held]) => held.has('LOCK TABLES') || held.has('ALL')).map(([s]) => `\`${s}\`.*`);
      if (schemas.length > 0) text += ` [held only on ${schemas.join(', ')}]`;
    }
    return text;
  });
  let explanation = `lacks ${parts.join(', ')} ON *.*, needed by backup tools such as mysqldump, mariabackup or xtrabackup`;
  if (summary.roles.length > 0) {
    explanation += `; privileges that come through its roles (${summary.roles.join(', ')}) were not counted`;
  }
  return { missing, explanation };
}
