/**
 * The data directory holds what must stay between Census and its owner: the database (password
 * hashes, hashed session ids, sealed credentials), the key that opens those credentials, the TLS
 * private key, the first admin password. At every start it is made owner-only, whatever state it
 * was left in (an older Census, a restore, a careless `cp`), and Census refuses to start when that
 * cannot be done, rather than run with secrets others can read.
 */
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';

const refuse = (path: string, why: string) =>
  new Error(
    `refusing to start: ${path} ${why}. Everything in the data directory must belong to the user running Census ` +
      `and be private to it (chown -R that user, chmod -R go-rwx), or choose another --data-dir.`,
  );

const reason = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/**
 * Creates `dir` (0700) if missing, then takes every permission of group and others away from it
 * and from everything below it (0755 → 0700, 0644 → 0600; the owner's own bits are left as they
 * are). Throws a message naming the path when something is not ours or cannot be changed.
 */
export function makeDataDirPrivate(dir: string): void {
  let st = statOrUndefined(dir, statSync);
  if (!st) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw refuse(dir, `cannot be created (${reason(err)})`);
    }
    st = statOrUndefined(dir, statSync);
  }
  if (!st?.isDirectory()) throw refuse(dir, 'is not a directory');
  privatize(dir, st, true);
}

function privatize(path: string, st: Stats, descend: boolean): void {
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw refuse(path, `belongs to user id ${st.uid}, not to the user running Census (${uid})`);
  if (st.mode & 0o7077) {
    try {
      chmodSync(path, st.mode & 0o700);
    } catch (err) {
      throw refuse(path, `cannot be made private to its owner (chmod failed: ${reason(err)})`);
    }
  }
  if (!descend || !st.isDirectory()) return;
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (err) {
    throw refuse(path, `cannot be read (${reason(err)})`);
  }
  for (const name of names) {
    const child = join(path, name);
    const own = statOrUndefined(child, lstatSync);
    if (!own) continue; // gone meanwhile (SQLite removes -shm/-wal when the last connection closes)
    if (own.isSymbolicLink()) {
      // A link the operator placed (say, the database on another disk): its target must be
      // private too; it is not descended into, so a link cannot lead the walk in circles.
      const target = statOrUndefined(child, statSync);
      if (target) privatize(child, target, false);
      continue;
    }
    privatize(child, own, true);
  }
}

function statOrUndefined(path: string, stat: (p: string) => Stats): Stats | undefined {
  try {
    return stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refuse(path, `cannot be examined (${reason(err)})`);
  }
}

/**
 * Creates an empty file with mode 0600 unless it exists. For the SQLite database: SQLite gives
 * the `-wal` and `-shm` files it creates later the mode of the database file, so a database
 * born 0600 has private companions at every moment, not only after the next start's sweep.
 * (An empty file is a valid, empty SQLite database.)
 */
export function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'a', 0o600));
  } catch (err) {
    throw refuse(path, `cannot be created (${reason(err)})`);
  }
}
