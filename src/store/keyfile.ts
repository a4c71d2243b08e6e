import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const KEY_LEN = 32;
const KEY_FILE = 'secret.key';
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
 * The key that seals stored secrets. `fromEnv` (e.g. CENSUS_SECRET_KEY) wins when given,
 * so a deployment can keep the key out of the data directory. Otherwise the key lives in
 * `${dataDir}/secret.key`, created on first use.
 *
 * An empty `fromEnv` is an error rather than "not set": silently falling back to a file
 * key would seal secrets with a key the operator did not intend.
 */
export function loadOrCreateKey(dataDir: string, fromEnv?: string): Buffer {
  if (fromEnv !== undefined) return decodeKey(fromEnv, 'CENSUS_SECRET_KEY');

  const path = join(dataDir, KEY_FILE);
  const existing = readIfExists(path);
  if (existing !== undefined) return decodeKey(existing, path);

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
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Lost the race: use the winner's key.
    return decodeKey(readFileSync(path, 'utf8'), path);
  } finally {
    unlinkSync(tmp);
  }
  return key;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
