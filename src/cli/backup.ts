/**
 * `census backup` and `census restore`: Census's own data as one file. On the embedded SQLite
 * default: a consistent copy of the live database, the secret key that opens the stored
 * credentials (unless CENSUS_SECRET_KEY supplies it), and the TLS certificate and key. On
 * PostgreSQL: pg_dump's custom format instead of the database file. See docs/operations.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretBox, type KeyRing } from '../core/secret-box.ts';
import { copyLiveDatabase, inspectPostgres, inspectSqlite, postgresHasCensus, sqliteInUse, type DatabaseFacts } from '../store/backup.ts';
import { loadOrCreateKeys } from '../store/keyfile.ts';
import { MIGRATIONS } from '../store/migrations.ts';
import { extractArchive, sha256File, writeArchive, type ArchiveEntry } from './archive.ts';

const DB_FILE = 'census.db';
const KEY_FILE = 'secret.key';
const PG_DUMP = 'census.pgdump';
const TLS_FILES = ['tls/key.pem', 'tls/cert.pem'];
const MANIFEST = 'manifest.json';
const FORMAT = 'census-backup';

export const BACKUP_USAGE = `Usage: census backup --to FILE [--data-dir DIR] [--database postgres://…] [--force]

Writes one file (a .tar.gz, mode 0600) with everything needed to bring this Census back:
  census.db      a consistent copy of the database, taken while the server runs and writes
  secret.key     the key that opens the stored credentials: the file therefore unlocks every
                 registered password and SSH key; keep it as safe as those credentials.
                 Not included when CENSUS_SECRET_KEY gives the key: keep that key yourself.
  tls/           the server's TLS key and certificate, if there are any
  manifest.json  what is in the file, with SHA-256 checksums
With --database postgres://… the database part is pg_dump's custom format (pg_dump must be on
PATH) instead of census.db; see docs/operations.md.

Options:
  --to FILE          the backup file to write (refused if it exists, unless --force)
  --data-dir DIR     as census server (default ./.census or $CENSUS_DATA_DIR)
  --database URL     back up this PostgreSQL database instead of the SQLite one in DIR
  --force            replace FILE if it exists`;

export const RESTORE_USAGE = `Usage: census restore --from FILE [--data-dir DIR] [--database postgres://…] [--force]

Restores a file written by census backup into DIR, then \`census server --data-dir DIR\` starts on it.
Checks first that the file is whole (checksums, SQLite's integrity check), that this Census can
read its schema, and that the key opens every stored credential. Refused while a server uses DIR.

Options:
  --from FILE        the backup file
  --data-dir DIR     where to restore (default ./.census or $CENSUS_DATA_DIR); must be empty
                     or absent unless --force
  --database URL     for a PostgreSQL backup: the empty database to restore into (pg_restore)
  --force            replace the Census files (database, key, TLS files) in a DIR that has them
A backup made with CENSUS_SECRET_KEY holds no key: set CENSUS_SECRET_KEY to that key to restore it.`;

interface Manifest {
  format: typeof FORMAT;
  formatVersion: 1;
  census: string;
  createdAt: string;
  database: 'sqlite' | 'postgres';
  schemaVersion: number;
  /** 'included': secret.key is in the file; 'external': it came from CENSUS_SECRET_KEY. */
  key: 'included' | 'external';
  files: { name: string; size: number; sha256: string }[];
}

class UsageFail extends Error {}

function options(args: string[], extra: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({
      args,
      options: { 'data-dir': { type: 'string' }, database: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...extra },
    }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new UsageFail((err as Error).message);
  }
}

const dataDirOf = (v: Record<string, string | boolean | undefined>) =>
  resolve((v['data-dir'] as string | undefined) ?? process.env.CENSUS_DATA_DIR ?? '.census');

function censusVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/**
 * The key as `census server` would use it (CENSUS_SECRET_KEY, else DIR/secret.key), without
 * creating one: a backup or restore must never invent a key.
 */
function existingKey(dataDir: string): { key: KeyRing; source: 'env' | 'file' } | undefined {
  const env = process.env.CENSUS_SECRET_KEY;
  if (env !== undefined) return { key: loadOrCreateKeys(dataDir, env).ring, source: 'env' };
  // Every key in the file (census rotate-key keeps old ones until --drop-old), not only the current one.
  if (existsSync(join(dataDir, KEY_FILE))) return { key: loadOrCreateKeys(dataDir).ring, source: 'file' };
  return undefined;
}

/** Throws unless `key` opens every sealed credential; says how many there are. */
function checkKey(key: KeyRing, facts: DatabaseFacts, whose: string): number {
  const box = SecretBox.fromRing(key);
  let failed = 0;
  for (const s of facts.sealed) {
    try {
      box.open(s);
    } catch {
      failed++;
    }
  }
  if (failed) throw new Error(`${whose} does not open ${failed} of the ${facts.sealed.length} stored credential(s): wrong key`);
  return facts.sealed.length;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      fail(new Error(e.code === 'ENOENT' ? `${cmd} is not on PATH; install the PostgreSQL client tools (docs/operations.md)` : e.message)));
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`${cmd} failed (exit ${code}): ${err.trim().slice(0, 2000)}`))));
  });
}

const isPostgres = (url: string | undefined): url is string => !!url && /^postgres(ql)?:\/\//.test(url);

export async function backup(args: string[]): Promise<void> {
  const v = options(args, { to: { type: 'string' } });
  if (v.help) return void console.log(BACKUP_USAGE);
  if (typeof v.to !== 'string' || !v.to) throw new UsageFail('--to FILE is required');
  const database = v.database as string | undefined;
  if (database !== undefined && !isPostgres(database)) throw new UsageFail('--database takes a postgres:// URL (without it, the SQLite database in the data dir is backed up)');
  const dataDir = dataDirOf(v);
  const to = resolve(v.to);
  if (existsSync(to) && !v.force) throw new Error(`${to} exists; choose another name or add --force to replace it`);

  const key = existingKey(dataDir);
  if (!key) throw new Error(`there is no ${join(dataDir, KEY_FILE)} and CENSUS_SECRET_KEY is not set: is ${dataDir} Census's data dir?`);

  // Everything is staged next to the target: same file system, private (0700) directory.
  const stage = mkdtempSync(join(dirname(to), '.census-backup-'));
  try {
    const entries: ArchiveEntry[] = [];
    let facts: DatabaseFacts;
    if (database) {
      const dump = join(stage, PG_DUMP);
      await run('pg_dump', ['--format=custom', '--file', dump, '--dbname', database]);
      facts = await inspectPostgres(database);
      entries.push({ name: PG_DUMP, from: dump });
    } else {
      const source = join(dataDir, DB_FILE);
      if (!existsSync(source)) throw new Error(`there is no Census database at ${source}`);
      const copy = join(stage, DB_FILE);
      copyLiveDatabase(source, copy);
      facts = inspectSqlite(copy);
      entries.push({ name: DB_FILE, from: copy });
    }
    // A backup whose credentials cannot be opened is no backup: say so now, not at restore time.
    const credentials = checkKey(key.key, facts, key.source === 'env' ? 'CENSUS_SECRET_KEY' : join(dataDir, KEY_FILE));
    if (key.source === 'file') entries.push({ name: KEY_FILE, from: join(dataDir, KEY_FILE) });
    for (const f of TLS_FILES) if (existsSync(join(dataDir, f))) entries.push({ name: f, from: join(dataDir, f) });

    const manifest: Manifest = {
      format: FORMAT, formatVersion: 1, census: censusVersion(), createdAt: new Date().toISOString(),
      database: database ? 'postgres' : 'sqlite', schemaVersion: facts.schemaVersion, key: key.source === 'file' ? 'included' : 'external',
      files: [],
    };
    for (const e of entries) manifest.files.push({ name: e.name, size: statSync(e.from as string).size, sha256: await sha256File(e.from as string) });
    await writeArchive(to, [{ name: MANIFEST, from: Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`) }, ...entries]);
    chmodSync(to, 0o600);

    console.log(`Backed up ${manifest.database === 'postgres' ? 'the PostgreSQL database' : join(dataDir, DB_FILE)} to ${to} ` +
      `(${(statSync(to).size / 1024).toFixed(0)} KiB; schema version ${facts.schemaVersion}; ${credentials} stored credential(s); ` +
      `${entries.map((e) => e.name).join(', ')}).`);
    if (key.source === 'file') console.log('The file holds the secret key that opens the stored credentials: keep it as safe as they are.');
    else console.log('The secret key is NOT in the file: it comes from CENSUS_SECRET_KEY. Keep that key with the backup; without it the stored credentials cannot be opened.');
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

async function readBackup(from: string, stage: string): Promise<{ manifest: Manifest; files: Map<string, string> }> {
  const allowed = new Set([MANIFEST, DB_FILE, PG_DUMP, KEY_FILE, ...TLS_FILES]);
  let files: Map<string, string>;
  try {
    files = await extractArchive(from, stage, (n) => allowed.has(n));
  } catch (err) {
    throw new Error(`${from} is not a whole Census backup: ${(err as Error).message}`);
  }
  const damaged = (why: string) => new Error(`${from} is not a whole Census backup: ${why}`);
  const mpath = files.get(MANIFEST);
  if (!mpath) throw damaged('it has no manifest.json');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(mpath, 'utf8')) as Manifest;
  } catch {
    throw damaged('its manifest.json is not JSON');
  }
  if (manifest.format !== FORMAT || manifest.formatVersion !== 1 || !Array.isArray(manifest.files)) throw damaged('its manifest.json is not a Census backup manifest');
  const listed = new Set(manifest.files.map((f) => f.name));
  for (const name of files.keys()) if (name !== MANIFEST && !listed.has(name)) throw damaged(`${name} is not in its manifest`);
  for (const f of manifest.files) {
    const path = files.get(f.name);
    if (!path) throw damaged(`${f.name} is missing`);
    if (statSync(path).size !== f.size || (await sha256File(path)) !== f.sha256) throw damaged(`${f.name} does not match its checksum`);
  }
  return { manifest, files };
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

export async function restore(args: string[]): Promise<void> {
  const v = options(args, { from: { type: 'string' } });
  if (v.help) return void console.log(RESTORE_USAGE);
  if (typeof v.from !== 'string' || !v.from) throw new UsageFail('--from FILE is required');
  const from = resolve(v.from);
  if (!existsSync(from)) throw new Error(`there is no file ${from}`);
  const database = v.database as string | undefined;
  if (database !== undefined && !isPostgres(database)) throw new UsageFail('--database takes a postgres:// URL');
  const dataDir = dataDirOf(v);

  const inUse = () => {
    if (sqliteInUse(join(dataDir, DB_FILE))) throw new Error(`${join(dataDir, DB_FILE)} is open in another process (a running Census server?): stop it first`);
  };
  inUse();
  if (!isEmptyDir(dataDir) && !v.force) {
    throw new Error(`${dataDir} is not empty; restore into a new or empty directory, or add --force to replace the Census files in it`);
  }

  const created = !existsSync(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stage = mkdtempSync(join(dataDir, '.restore-'));
  let restored = false;
  try {
    const { manifest, files } = await readBackup(from, stage);
    const known = Math.max(...MIGRATIONS.map((m) => m.version));
    if (manifest.schemaVersion > known) {
      throw new Error(`the backup has schema version ${manifest.schemaVersion}, newer than this Census knows (${known}): restore it with Census ${manifest.census} or later`);
    }

    let key: KeyRing;
    let keyPath = files.get(KEY_FILE);
    if (keyPath) {
      // Under its own name in a directory of its own, to read it the way the server will.
      mkdirSync(join(stage, 'key'), { mode: 0o700 });
      renameSync(keyPath, (keyPath = join(stage, 'key', KEY_FILE)));
      files.set(KEY_FILE, keyPath);
      key = loadOrCreateKeys(dirname(keyPath)).ring;
    }
    else if (process.env.CENSUS_SECRET_KEY !== undefined) key = loadOrCreateKeys(dataDir, process.env.CENSUS_SECRET_KEY).ring;
    else throw new Error('the backup holds no key (it was made with CENSUS_SECRET_KEY): set CENSUS_SECRET_KEY to that key and run restore again');

    let facts: DatabaseFacts;
    if (manifest.database === 'postgres') {
      if (!database) throw new UsageFail('this is a PostgreSQL backup: give --database postgres://… (an empty database to restore into)');
      if (await postgresHasCensus(database)) throw new Error('that PostgreSQL database already holds Census tables; restore into an empty one');
      await run('pg_restore', ['--exit-on-error', '--no-owner', '--dbname', database, files.get(PG_DUMP)!]);
      facts = await inspectPostgres(database);
    } else {
      const db = files.get(DB_FILE)!;
      try {
        facts = inspectSqlite(db);
      } catch (err) {
        throw new Error(`${from}: ${(err as Error).message}`);
      }
    }
    const credentials = checkKey(key, facts, keyPath ? 'the key in the backup' : 'CENSUS_SECRET_KEY');

    // Into place. Check again: a server may have started meanwhile.
    inUse();
    const place = (name: string) => {
      const target = join(dataDir, name);
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      renameSync(files.get(name)!, target);
      chmodSync(target, 0o600);
    };
    if (manifest.database === 'sqlite') {
      // A WAL or shared-memory file left from the old database would be applied to the new one.
      for (const stale of [`${DB_FILE}-wal`, `${DB_FILE}-shm`, `${DB_FILE}-journal`]) rmSync(join(dataDir, stale), { force: true });
      place(DB_FILE);
    }
    // The old admin password no longer applies; an old key file would shadow nothing but confuse.
    rmSync(join(dataDir, 'initial-admin-password'), { force: true });
    if (keyPath) place(KEY_FILE);
    else rmSync(join(dataDir, KEY_FILE), { force: true });
    for (const f of TLS_FILES) if (files.has(f)) place(f);

    console.log(`Restored ${from} (made ${manifest.createdAt} by Census ${manifest.census}; schema version ${manifest.schemaVersion}) ` +
      `into ${manifest.database === 'postgres' ? 'the PostgreSQL database' : dataDir}; the key opens all ${credentials} stored credential(s).`);
    console.log(`Start it with: census server --data-dir ${dataDir}${manifest.database === 'postgres' ? ' --database …' : ''}` +
      `${keyPath ? '' : '  (with the same CENSUS_SECRET_KEY)'}`);
    restored = true;
  } finally {
    rmSync(stage, { recursive: true, force: true });
    // A refused restore leaves no trace: not even the directory, if it made it.
    if (!restored && created) rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function main(command: 'backup' | 'restore', args: string[]): Promise<void> {
  try {
    await (command === 'backup' ? backup(args) : restore(args));
  } catch (err) {
    if (err instanceof UsageFail) {
      console.error(`census: ${err.message}\n\n${command === 'backup' ? BACKUP_USAGE : RESTORE_USAGE}`);
      process.exit(2);
    }
    throw err;
  }
}
