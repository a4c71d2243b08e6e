import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { KeyRing, KeySource } from '../core/secret-box.ts';

const KEY_LEN = 32;
export const KEY_FILE = 'secret.key';
const FORMAT = 'census-secret-keys';
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

// Errors name where the key came from but never include its text.
function decodeKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = B64.test(trimmed) ? Buffer.from(trimmed, 'base64') : Buffer.alloc(0);
  if (key.length !== KEY_LEN) {
    throw new Error(
      `${source} must be base64 of exactly ${KEY_LEN} random bytes ` +
        `(got ${B64.test(trimmed) ? `${key.length} bytes` : 'text that is not base64'}); ` +
        `generate one with: openssl rand -base64 ${KEY_LEN}`,
    );
  }
  return key;
}

/**
 * What the key file holds. Before the first `census rotate-key` it is one base64 line: that key
 * is key 0. After, it is JSON:
 * `{"format":"census-secret-keys","current":2,"resealed":true,"keys":[{"id":2,"key":"…","added":"…"},…]}`.
 * `current` seals; every listed key opens what names it. `resealed` is false while a rotation
 * has not yet re-sealed every stored value under `current` (running the command again resumes it).
 */
export interface KeyFile extends KeyRing {
  resealed: boolean;
  /** When each key was added (ISO time), if known. */
  added: ReadonlyMap<number, string>;
}

export function parseKeyFile(text: string, source: string): KeyFile {
  if (!text.trim().startsWith('{')) {
    return { current: 0, keys: new Map([[0, decodeKey(text, source)]]), resealed: true, added: new Map() };
  }
  const damaged = (why: string) => new Error(`${source} is not a Census key file (${why})`);
  let doc: { format?: unknown; current?: unknown; resealed?: unknown; keys?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    // JSON.parse's own message quotes the text around the fault: that could be key material.
    throw damaged('not valid JSON');
  }
  if (doc.format !== FORMAT || !Number.isInteger(doc.current) || !Array.isArray(doc.keys)) throw damaged('format, current or keys missing');
  const keys = new Map<number, Buffer>();
  const added = new Map<number, string>();
  for (const k of doc.keys as { id?: unknown; key?: unknown; added?: unknown }[]) {
    if (!Number.isInteger(k?.id) || (k.id as number) < 0 || typeof k.key !== 'string') throw damaged('a key without a whole-number id or key text');
    const id = k.id as number;
    if (keys.has(id)) throw damaged(`key ${id} twice`);
    keys.set(id, decodeKey(k.key, `${source} key ${id}`));
    if (typeof k.added === 'string') added.set(id, k.added);
  }
  const current = doc.current as number;
  if (!keys.has(current)) throw damaged(`the current key ${current} is not in it`);
  return { current, keys, resealed: doc.resealed !== false, added };
}

export function formatKeyFile(f: KeyFile): string {
  // Newest first: the one to look for when reading the file by eye.
  const ids = [...f.keys.keys()].sort((a, b) => b - a);
  const keys = ids.map((id) => ({ id, key: f.keys.get(id)!.toString('base64'), ...(f.added.has(id) ? { added: f.added.get(id) } : {}) }));
  return `${JSON.stringify({ format: FORMAT, current: f.current, resealed: f.resealed, keys }, null, 1)}\n`;
}

/**
 * Replaces the key file at once: a private temp file beside it, flushed, then renamed over it, so
 * every reader sees the old file or the new one, never half of one. A symbolic link (a key file
 * shared from elsewhere) is followed: its target is replaced and the link stays.
 */
export function writeKeyFile(path: string, f: KeyFile): void {
  let target = path;
  try {
    target = realpathSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, formatKeyFile(f));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, target);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  // The rename itself is durable only once the directory is flushed.
  try {
    const dfd = openSync(dirname(target), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* not every file system lets a directory be opened for this */
  }
}

export function readKeyFile(path: string): KeyFile {
  return parseKeyFile(readFileSync(path, 'utf8'), path);
}

/**
 * The key file as a source a running process follows (core/secret-box.ts's KeySource): read again
 * when a value names a key the process does not know, when the file changed before a seal, and on
 * SIGHUP. "Changed" is a different inode, size or modification time: `census rotate-key` renames
 * a new file into place, so the inode always changes.
 */
export function keyFileSource(path: string): KeySource {
  let seen = '';
  const stamp = () => {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  };
  const read = () => {
    const now = stamp();
    const ring = readKeyFile(path);
    seen = now;
    return ring;
  };
  return {
    read,
    ifChanged: () => (stamp() === seen ? undefined : read()),
  };
}

/**
 * The key that seals stored secrets. `fromEnv` (e.g. CENSUS_SECRET_KEY) wins when given,
 * so a deployment can keep the key out of the data directory. Otherwise the key lives in
 * `${dataDir}/secret.key`, created on first use. Returns the current key (see loadOrCreateKeys
 * for all of them).
 *
 * An empty `fromEnv` is an error rather than "not set": silently falling back to a file
 * key would seal secrets with a key the operator did not intend.
 */
export function loadOrCreateKey(dataDir: string, fromEnv?: string): Buffer {
  const { ring } = loadOrCreateKeys(dataDir, fromEnv);
  return ring.keys.get(ring.current)!;
}

/**
 * Every key, and (for the key file) the source a running process follows to see a rotation.
 * CENSUS_SECRET_KEY is one key, key 0, and never changes under a running process.
 */
export function loadOrCreateKeys(dataDir: string, fromEnv?: string): { ring: KeyRing; source?: KeySource } {
  if (fromEnv !== undefined) return { ring: { current: 0, keys: new Map([[0, decodeKey(fromEnv, 'CENSUS_SECRET_KEY')]]) } };
  const path = join(dataDir, KEY_FILE);
  createKeyFileIfMissing(dataDir, path);
  const source = keyFileSource(path);
  return { ring: source.read(), source };
}

function createKeyFileIfMissing(dataDir: string, path: string): void {
  if (readIfExists(path) !== undefined) return;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_LEN);
  // Write a private temp file, then hard-link it into place: the link is atomic and
  // fails if the file exists, so two processes starting at once cannot both create a
  // key, and nobody ever reads a half-written one.
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
  } catch (err) {
    // Lost the race: the winner's key is the one.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Takes the key file's rotation lock (`secret.key.lock` beside the file's real path, created
 * exclusively), so two `census rotate-key` runs never both add a key and lose one. A lock left
 * by a process of this host that is gone is taken over; one from another host is not (we cannot
 * tell whether it still runs). Returns the release function.
 */
export function lockKeyFile(path: string): () => void {
  let target = path;
  try {
    target = realpathSync(path);
  } catch {
    /* no file yet: lock beside the path */
  }
  const lock = `${target}.lock`;
  const me = `${hostname()} ${process.pid}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, me, { mode: 0o600, flag: 'wx' });
      return () => {
        try {
          if (readFileSync(lock, 'utf8') === me) unlinkSync(lock);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readIfExists(lock) ?? '';
    const [host, pid] = holder.trim().split(' ');
    if (host === hostname() && pid && !alive(Number(pid))) {
      try {
        unlinkSync(lock);
      } catch {
        /* someone else took it over first */
      }
      continue;
    }
    throw new Error(
      `${lock} says census rotate-key (process ${pid ?? '?'} on ${host || '?'}) is running; ` +
        'wait for it, or remove that file if it is not running',
    );
  }
  throw new Error(`could not take ${lock}`);
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
