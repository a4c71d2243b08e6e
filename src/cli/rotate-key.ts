/**
 * `census rotate-key`: a new secret key, and every stored credential sealed again under it, while
 * Census keeps running (on PostgreSQL; on SQLite the server must be stopped). Works on the key
 * file and the database directly, like `census backup` (./backup.ts). The procedure, and why old
 * keys stay until `--drop-old`, is in docs/operations.md ("Rotating the secret key").
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretBox } from '../core/secret-box.ts';
import { sqliteInUse } from '../store/backup.ts';
import { Store } from '../store/index.ts';
import { KEY_FILE, lockKeyFile, readKeyFile, writeKeyFile, type KeyFile } from '../store/keyfile.ts';
import { SEALED_COLUMNS } from '../store/sealed.ts';

const DB_FILE = 'census.db';

export const ROTATE_USAGE = `Usage: census rotate-key [--data-dir DIR] [--database postgres://…] [--stage | --drop-old]

Adds a new key to DIR/secret.key, makes it the one that seals, and seals every stored credential
again under it, a few at a time. Running processes follow by themselves: a process reads the key
file again when a value names a key it does not know and before it seals anything, and on
SIGHUP. The old keys stay in the file (they still open what a process that had not yet seen the
new key may have sealed meanwhile) until --drop-old. If the command is interrupted, run it again:
it finishes the rotation it began instead of starting another.
On SQLite, stop the server first. With CENSUS_SECRET_KEY there is no key file to rotate.

Options:
  --data-dir DIR     as census server (default ./.census or $CENSUS_DATA_DIR)
  --database URL     the PostgreSQL database of a cluster (without it, the SQLite one in DIR)
  --stage            only add the new key, not yet sealing with it: for key files copied to
                     each machine rather than shared (copy it, then run census rotate-key)
  --drop-old         no new key: make sure every credential is under the current key, then
                     remove the others from the file`;

export interface RotateOptions {
  dataDir: string;
  /** postgres://… ; default: the SQLite database in the data dir. */
  database?: string;
  /** PostgreSQL schema (tests, as CensusConfig.schema). */
  schema?: string;
  mode?: 'rotate' | 'stage' | 'drop-old';
  /** Values re-sealed per transaction. */
  batchSize?: number;
  /** Called after each batch commits with how many were re-sealed so far (tests interrupt here). */
  afterBatch?: (resealed: number) => void;
  log?: (line: string) => void;
}

export interface RotateResult {
  /** The key that seals now. */
  current: number;
  /** Values this run sealed again. */
  resealed: number;
  /** This run finished a rotation an earlier one began. */
  resumed: boolean;
  /** Keys removed from the file (--drop-old). */
  dropped: number[];
}

class UsageFail extends Error {}

const isPostgres = (url: string | undefined): url is string => !!url && /^postgres(ql)?:\/\//.test(url);
const list = (ids: (number | string)[]) => ids.join(', ');

export async function rotateKey(o: RotateOptions): Promise<RotateResult> {
  const log = o.log ?? ((line: string) => console.log(line));
  const mode = o.mode ?? 'rotate';
  const path = join(o.dataDir, KEY_FILE);
  if (!existsSync(path)) throw new Error(`there is no ${path}: is ${o.dataDir} Census's data dir? (with CENSUS_SECRET_KEY there is no key file to rotate)`);
  let storeUrl: string;
  if (o.database) {
    if (!isPostgres(o.database)) throw new UsageFail('--database takes a postgres:// URL (without it, the SQLite database in the data dir is used)');
    storeUrl = o.database;
  } else {
    storeUrl = join(o.dataDir, DB_FILE);
    if (!existsSync(storeUrl)) throw new Error(`there is no Census database at ${storeUrl}`);
    // One process owns a SQLite database: the server. It would go on sealing under the key it
    // read at start while this one re-seals; stopping it for the moment this takes is simpler.
    if (sqliteInUse(storeUrl)) throw new Error(`${storeUrl} is open in another process (a running Census server?): stop it, run census rotate-key, start it again`);
  }

  const release = lockKeyFile(path);
  try {
    let file = readKeyFile(path);
    const newest = Math.max(...file.keys.keys());
    const now = new Date().toISOString();
    let resumed = false;

    if (mode === 'stage') {
      if (newest > file.current) throw new Error(`key ${newest} is staged already: run census rotate-key to make it current`);
      if (!file.resealed) throw new Error(`a rotation to key ${file.current} is not finished: run census rotate-key first`);
      writeKeyFile(path, withKey(file, newest + 1, now));
      log(`Added key ${newest + 1} to ${path}; key ${file.current} still seals. Give every process this file, then run census rotate-key.`);
      return { current: file.current, resealed: 0, resumed: false, dropped: [] };
    }
    if (mode === 'rotate') {
      if (!file.resealed) {
        resumed = true;
        log(`Resuming the rotation to key ${file.current}.`);
      } else {
        const next = newest > file.current ? newest : newest + 1;
        if (next > newest) file = withKey(file, next, now);
        file = { ...file, current: next, resealed: false };
        // The file first: from here on every process that seals uses the new key, and every
        // process that meets a value under it finds the key.
        writeKeyFile(path, file);
        log(`Key ${next} is now the current key in ${path}.`);
      }
    }

    const box = SecretBox.fromRing(file);
    const store = await Store.open({ url: storeUrl, ...(o.schema ? { schema: o.schema } : {}) });
    let resealed = 0;
    try {
      resealed = await resealAll(store, box, o.batchSize ?? 50, o.afterBatch);
    } finally {
      await store.close();
    }
    if (!file.resealed) {
      file = { ...file, resealed: true };
      writeKeyFile(path, file);
    }
    const old = [...file.keys.keys()].filter((id) => id < file.current).sort((a, b) => a - b);
    let dropped: number[] = [];
    if (mode === 'drop-old' && old.length) {
      const keys = new Map([[file.current, file.keys.get(file.current)!]]);
      for (const [id, key] of file.keys) if (id > file.current) keys.set(id, key); // a staged key stays
      writeKeyFile(path, { ...file, keys });
      dropped = old;
    }
    log(`Sealed ${resealed} stored credential(s) again under key ${file.current}; every stored credential is under it now.`);
    if (dropped.length) log(`Removed key(s) ${list(dropped)} from ${path}.`);
    else if (old.length) log(`Key(s) ${list(old)} stay in ${path} to open what a process may still seal under them; remove them later with census rotate-key --drop-old.`);
    return { current: file.current, resealed, resumed, dropped };
  } finally {
    release();
  }
}

function withKey(file: KeyFile, id: number, now: string): KeyFile {
  const keys = new Map(file.keys);
  keys.set(id, randomBytes(32));
  const added = new Map(file.added);
  added.set(id, now);
  return { ...file, keys, added };
}


/**
 * Seals every value not under the box's current key again, `batch` per transaction, each one
 * replaced only if nobody changed it meanwhile. Passes repeat until one finds nothing left: a
 * value another process sealed under an old key while a pass ran is caught by the next.
 */
async function resealAll(store: Store, box: SecretBox, batch: number, afterBatch?: (n: number) => void): Promise<number> {
  let total = 0;
  for (let pass = 0; ; pass++) {
    let found = 0;
    const unopened: string[] = [];
    for (const source of SEALED_COLUMNS) {
      for (let after = 0; ;) {
        const rows = await store.sealed.after(source, after, batch);
        if (!rows.length) break;
        after = rows[rows.length - 1]!.id;
        const stale = rows.filter((r) => SecretBox.keyIdOf(r.secret) !== box.currentKeyId);
        if (!stale.length) continue;
        found += stale.length;
        const done = await store.transaction(async (r) => {
          let n = 0;
          for (const row of stale) {
            let plain: string;
            try {
              plain = box.open(row.secret);
            } catch {
              unopened.push(`${source.what} ${row.id}`); // never the value or its text: only whose it is
              continue;
            }
            if (await r.sealed.replace(source, row.id, row.secret, box.seal(plain))) n++;
          }
          return n;
        });
        total += done;
        afterBatch?.(total);
      }
    }
    if (unopened.length) {
      throw new Error(`no key in the key file opens the credential(s) of ${list(unopened.slice(0, 20))}${unopened.length > 20 ? ', …' : ''}: ` +
        'they were left as they are and the rotation is not finished (was the key file replaced by an older one?)');
    }
    if (!found) return total;
    if (pass >= 10) throw new Error('stored credentials keep being sealed under an old key: is a process running with a key file of its own? (docs/operations.md, "Rotating the secret key")');
  }
}

export async function main(args: string[]): Promise<void> {
  try {
    let v;
    try {
      ({ values: v } = parseArgs({
        args,
        options: { 'data-dir': { type: 'string' }, database: { type: 'string' }, stage: { type: 'boolean' }, 'drop-old': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      }));
    } catch (err) {
      throw new UsageFail((err as Error).message);
    }
    if (v.help) return void console.log(ROTATE_USAGE);
    if (v.stage && v['drop-old']) throw new UsageFail('--stage and --drop-old do not go together');
    if (process.env.CENSUS_SECRET_KEY !== undefined) {
      throw new Error('CENSUS_SECRET_KEY gives the key, so there is no key file to rotate: see docs/operations.md, "Rotating the secret key"');
    }
    await rotateKey({
      dataDir: resolve(v['data-dir'] ?? process.env.CENSUS_DATA_DIR ?? '.census'),
      ...(v.database !== undefined ? { database: v.database } : {}),
      mode: v.stage ? 'stage' : v['drop-old'] ? 'drop-old' : 'rotate',
    });
  } catch (err) {
    if (err instanceof UsageFail) {
      console.error(`census: ${err.message}\n\n${ROTATE_USAGE}`);
      process.exit(2);
    }
    throw err;
  }
}
