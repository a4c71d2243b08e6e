import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const KEY_LEN = 32;
const IV_LEN = 12; // the GCM standard nonce size
const TAG_LEN = 16;
/** Sealed under key 0, the one key Census had before key rotation: `v1:iv:tag:body`. */
const LEGACY = 'v1';
/** Sealed under a numbered key: `v2:keyId:iv:tag:body`. */
const KEYED = 'v2';
const ID = /^(0|[1-9][0-9]{0,8})$/;

// One fixed message for every failure, so neither a bad key, a damaged value nor
// a parse error leaks anything about the sealed or plain text (e.g. into logs).
const OPEN_FAILED = 'secret could not be decrypted (wrong key or damaged data)';

/**
 * The keys a process knows: `current` seals, every key opens what was sealed under it. Key 0 is
 * the key of a data dir from before rotation (or CENSUS_SECRET_KEY).
 */
export interface KeyRing {
  current: number;
  keys: ReadonlyMap<number, Buffer>;
}

/**
 * Where a ring comes from when it can change under a running process (the key file, rewritten by
 * `census rotate-key`). Core does no I/O: the store hands these in.
 */
export interface KeySource {
  /** The ring as it is now; throws when it cannot be read. */
  read(): KeyRing;
  /** The ring if it changed since the last read or check, else undefined (cheap: a stat). */
  ifChanged(): KeyRing | undefined;
}

function checkKey(key: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(key) || key.length !== KEY_LEN) {
    const got = Buffer.isBuffer(key) ? `${key.length} bytes` : typeof key;
    throw new Error(`${what} must be exactly ${KEY_LEN} bytes (got ${got})`);
  }
  // Own copy: the caller may reuse or wipe its buffer.
  return Buffer.from(key);
}

function copyRing(ring: KeyRing): KeyRing {
  const keys = new Map<number, Buffer>();
  for (const [id, key] of ring.keys) {
    if (!Number.isInteger(id) || id < 0) throw new Error(`a key id must be a whole number ≥ 0 (got ${id})`);
    keys.set(id, checkKey(key, `secret key ${id}`));
  }
  if (!keys.has(ring.current)) throw new Error(`the current key ${ring.current} is not among the keys`);
  return { current: ring.current, keys };
}

/**
 * Seals short secrets (stored credentials) with AES-256-GCM.
 * Sealed form: `v1:${ivB64}:${tagB64}:${cipherB64}` under key 0, and
 * `v2:${keyId}:${ivB64}:${tagB64}:${cipherB64}` under any later key, so that a value says which
 * key opens it and keys can be rotated while values sealed under the old one are still read.
 */
export class SecretBox {
  #ring: KeyRing;
  readonly #source: KeySource | undefined;

  private constructor(ring: KeyRing, source?: KeySource) {
    this.#ring = ring;
    this.#source = source;
  }

  /** One key, key 0, that never changes (CENSUS_SECRET_KEY, tests). */
  static fromKey(key: Buffer): SecretBox {
    return new SecretBox({ current: 0, keys: new Map([[0, checkKey(key, 'secret key')]]) });
  }

  /** Several keys; with a source, the box follows it (see KeySource). */
  static fromRing(ring: KeyRing, source?: KeySource): SecretBox {
    return new SecretBox(copyRing(ring), source);
  }

  /** The id of the key new values are sealed under. */
  get currentKeyId(): number {
    return this.#ring.current;
  }

  /** The id of the key `sealed` names (0 for the legacy form), or undefined if it names none. */
  static keyIdOf(sealed: string): number | undefined {
    const parts = sealed.split(':');
    if (parts[0] === LEGACY && parts.length === 4) return 0;
    if (parts[0] === KEYED && parts.length === 5 && ID.test(parts[1]!)) return Number(parts[1]);
    return undefined;
  }

  /**
   * Reads the source again now (SIGHUP). Throws, keeping the ring it had, when it cannot: the
   * caller logs that. Returns the current key id.
   */
  reload(): number {
    if (!this.#source) return this.#ring.current;
    this.#ring = copyRing(this.#source.read());
    return this.#ring.current;
  }

  seal(plain: string): string {
    // A process that has not seen a rotation yet must not go on sealing under the old key.
    this.#follow(() => this.#source?.ifChanged());
    const id = this.#ring.current;
    const key = this.#ring.keys.get(id)!;
    // A fresh random IV per seal; with GCM, reusing an IV under one key is fatal.
    const iv = randomBytes(IV_LEN);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    const head = id === 0 ? [LEGACY] : [KEYED, String(id)];
    return [...head, iv.toString('base64'), tag.toString('base64'), body.toString('base64')].join(':');
  }

  open(sealed: string): string {
    const id = typeof sealed === 'string' ? SecretBox.keyIdOf(sealed) : undefined;
    if (id === undefined) throw new Error(OPEN_FAILED);
    // A key this process has not seen: another process rotated; read the key file again.
    if (!this.#ring.keys.has(id)) this.#follow(() => this.#source?.read());
    const key = this.#ring.keys.get(id);
    if (!key) throw new Error(OPEN_FAILED);
    try {
      const parts = sealed.split(':');
      const [ivB64, tagB64, bodyB64] = parts.slice(-3);
      const iv = Buffer.from(ivB64!, 'base64');
      const tag = Buffer.from(tagB64!, 'base64');
      const body = Buffer.from(bodyB64!, 'base64');
      // Check lengths ourselves: Node would accept a short tag, which weakens GCM.
      if (iv.length !== IV_LEN || tag.length !== TAG_LEN) throw new Error();
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      // Deliberately drop the cause: it is never useful and could carry input.
      throw new Error(OPEN_FAILED);
    }
  }

  // A source that cannot be read right now (a key file being replaced by hand, say) leaves
  // the ring as it was: what it opens, it still opens.
  #follow(next: () => KeyRing | undefined): void {
    try {
      const ring = next();
      if (ring) this.#ring = copyRing(ring);
    } catch {
      /* keep the ring */
    }
  }
}
