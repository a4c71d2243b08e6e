import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt. The parameters are stored with each hash
 * (`scrypt$N$r$p$saltB64$hashB64`), so they can be raised later and old
 * hashes still verify with the parameters they were made with.
 */

const N = 16384;
const R = 8;
const P = 1;
const KEY_LEN = 64;
const SALT_LEN = 16;

// Limits on what a stored string may ask for. The stored value should come from
// us, but a damaged or hostile row must not make verify allocate gigabytes or spin.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_KEY_LEN = 256;
const MAX_MEM = 256 * 1024 * 1024;

// Written out rather than util.promisify: crypto.scrypt has overloads, and the
// promisified type picks one of them awkwardly.
function scryptAsync(plain: string, salt: Buffer, keyLen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(plain, salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

// scrypt needs about 128 * N * r bytes; Node refuses above `maxmem` (32 MiB by
// default), so pass what the parameters need, with headroom, up to MAX_MEM.
const memFor = (n: number, r: number) => Math.min(MAX_MEM, 2 * 128 * n * r);

export async function hashPassword(plain: string): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const hash = await scryptAsync(plain, salt, KEY_LEN, { N, r: R, p: P, maxmem: memFor(N, R) });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

const INT = /^[1-9][0-9]{0,9}$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

interface Parsed {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parse(stored: string): Parsed | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6) return undefined;
  const [scheme, nS, rS, pS, saltS, hashS] = parts as [string, string, string, string, string, string];
  if (scheme !== 'scrypt') return undefined;
  if (!INT.test(nS) || !INT.test(rS) || !INT.test(pS)) return undefined;
  if (!B64.test(saltS) || !B64.test(hashS)) return undefined;
  const n = Number(nS);
  const r = Number(rS);
  const p = Number(pS);
  // scrypt requires N to be a power of two greater than 1.
  if (n < 2 || n > MAX_N || (n & (n - 1)) !== 0) return undefined;
  if (r > MAX_R || p > MAX_P) return undefined;
  const salt = Buffer.from(saltS, 'base64');
  const hash = Buffer.from(hashS, 'base64');
  if (salt.length === 0 || hash.length === 0 || hash.length > MAX_KEY_LEN) return undefined;
  return { n, r, p, salt, hash };
}

/** True if `plain` matches `stored`. A malformed `stored` is simply false: it never throws. */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  try {
    const parsed = parse(stored);
    if (!parsed) return false;
    const { n, r, p, salt, hash } = parsed;
    const candidate = await scryptAsync(plain, salt, hash.length, { N: n, r, p, maxmem: memFor(n, r) });
    // Same length by construction (keyLen = hash.length), which timingSafeEqual requires.
    return timingSafeEqual(candidate, hash);
  } catch {
    return false;
  }
}

// No 0/O, 1/l/I: generated passwords get read off screens and typed by people.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const GENERATED_LEN = 20;

/** A random 20-character password (about 116 bits) from an unambiguous alphabet. */
export function generatePassword(): string {
  let out = '';
  // randomInt is uniform over the range, so no modulo bias.
  for (let i = 0; i < GENERATED_LEN; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export const PASSWORD_ALPHABET = ALPHABET;
