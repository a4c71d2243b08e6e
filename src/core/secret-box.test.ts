import { randomBytes } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { SecretBox } from './secret-box.ts';

const OPEN_FAILED = 'secret could not be decrypted (wrong key or damaged data)';

function openError(box: SecretBox, sealed: string): Error {
  try {
    box.open(sealed);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected open to throw');
}

// Flip one bit of the decoded field `index` (1 = iv, 2 = tag, 3 = ciphertext).
function tamper(sealed: string, index: number): string {
  const parts = sealed.split(':');
  const bytes = Buffer.from(parts[index]!, 'base64');
  bytes[0] = bytes[0]! ^ 0x01;
  parts[index] = bytes.toString('base64');
  return parts.join(':');
}

describe('SecretBox', () => {
  const box = SecretBox.fromKey(randomBytes(32));

  it('round-trips ascii, unicode and the empty string', () => {
    for (const plain of ['hunter2', 'pässwörd ✓ 密码 🔑', '', 'a:b:c', 'x'.repeat(10_000)]) {
      const sealed = box.seal(plain);
      expect(sealed).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$/);
      expect(box.open(sealed)).toBe(plain);
    }
  });

  it('two seals of the same text differ', () => {
    const a = box.seal('same');
    const b = box.seal('same');
    expect(a).not.toBe(b);
    expect(box.open(a)).toBe('same');
    expect(box.open(b)).toBe('same');
  });

  it('fails on a tampered iv, tag or ciphertext', () => {
    const sealed = box.seal('top secret value');
    for (const index of [1, 2, 3]) {
      expect(() => box.open(tamper(sealed, index))).toThrow(OPEN_FAILED);
    }
  });

  it('fails with the wrong key', () => {
    const sealed = box.seal('top secret value');
    const other = SecretBox.fromKey(randomBytes(32));
    expect(() => other.open(sealed)).toThrow(OPEN_FAILED);
  });

  it('fails on malformed input with the same message', () => {
    const sealed = box.seal('abc');
    const [, iv, tag, body] = sealed.split(':');
    const bad = [
      '',
      'abc',
      `v2:${iv}:${tag}:${body}`,
      `v1:${iv}:${tag}`,
      `v1:${iv}:${tag}:${body}:extra`,
      `v1::${tag}:${body}`,
      `v1:${iv}:${tag!.slice(0, 8)}:${body}`, // truncated tag must not be accepted
      `v1:${iv}:${Buffer.from(tag!, 'base64').subarray(0, 12).toString('base64')}:${body}`,
    ];
    for (const s of bad) expect(() => box.open(s), s).toThrow(OPEN_FAILED);
  });

  it('never puts the sealed or plain text in the error', () => {
    const plain = 'PLAINTEXT-MARKER-1234';
    const sealed = box.seal(plain);
    const damaged = tamper(sealed, 3);
    const err = openError(box, damaged);
    expect(err.message).toBe(OPEN_FAILED);
    const everything = `${err.message} ${err.stack ?? ''} ${String((err as { cause?: unknown }).cause ?? '')}`;
    expect(everything).not.toContain(plain);
    expect(everything).not.toContain(damaged);
    expect(everything).not.toContain(damaged.split(':')[3]!);
  });

  it('fromKey rejects keys that are not 32 bytes', () => {
    expect(() => SecretBox.fromKey(randomBytes(16))).toThrow(/exactly 32 bytes \(got 16 bytes\)/);
    expect(() => SecretBox.fromKey(Buffer.alloc(0))).toThrow(/32 bytes/);
    expect(() => SecretBox.fromKey(randomBytes(33))).toThrow(/32 bytes/);
  });

  it('keeps its own copy of the key', () => {
    const key = randomBytes(32);
    const b = SecretBox.fromKey(key);
    const sealed = b.seal('still readable');
    key.fill(0);
    expect(b.open(sealed)).toBe('still readable');
  });
});
