import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const KEY_LEN = 32;
const IV_LEN = 12; // the GCM standard nonce size
const TAG_LEN = 16;
const VERSION = 'v1';

// One fixed message for every failure, so neither a bad key, a damaged value nor
// a parse error leaks anything about the sealed or plain text (e.g. into logs).
const OPEN_FAILED = 'secret could not be decrypted (wrong key or damaged data)';

/**
 * Seals short secrets (stored credentials) with AES-256-GCM.
 * Sealed form: `v1:${ivB64}:${tagB64}:${cipherB64}`; the version prefix leaves
 * room for a different algorithm or key later.
 */
export class SecretBox {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  static fromKey(key: Buffer): SecretBox {
    if (!Buffer.isBuffer(key) || key.length !== KEY_LEN) {
      const got = Buffer.isBuffer(key) ? `${key.length} bytes` : typeof key;
      throw new Error(`secret key must be exactly ${KEY_LEN} bytes (got ${got})`);
    }
    // Own copy: the caller may reuse or wipe its buffer.
    return new SecretBox(Buffer.from(key));
  }

  seal(plain: string): string {
    // A fresh random IV per seal; with GCM, reusing an IV under one key is fatal.
    const iv = randomBytes(IV_LEN);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_LEN });
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString('base64'), tag.toString('base64'), body.toString('base64')].join(':');
  }

  open(sealed: string): string {
    try {
      const parts = sealed.split(':');
      if (parts.length !== 4 || parts[0] !== VERSION) throw new Error();
      const iv = Buffer.from(parts[1]!, 'base64');
      const tag = Buffer.from(parts[2]!, 'base64');
      const body = Buffer.from(parts[3]!, 'base64');
      // Check lengths ourselves: Node would accept a short tag, which weakens GCM.
      if (iv.length !== IV_LEN || tag.length !== TAG_LEN) throw new Error();
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_LEN });
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      // Deliberately drop the cause: it is never useful and could carry input.
      throw new Error(OPEN_FAILED);
    }
  }
}
