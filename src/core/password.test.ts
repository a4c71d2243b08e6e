import { describe, it, expect } from 'vitest';
import { PASSWORD_ALPHABET, generatePassword, hashPassword, verifyPassword } from './password.ts';

describe('hashPassword / verifyPassword', () => {
  it('round-trips', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
  });

  it('rejects a wrong password', async () => {
    const stored = await hashPassword('secret');
    expect(await verifyPassword('Secret', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts: two hashes of the same password differ, and both verify', async () => {
    const a = await hashPassword('same');
    const b = await hashPassword('same');
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('handles unicode passwords', async () => {
    const stored = await hashPassword('pässwörd ✓ 密码');
    expect(await verifyPassword('pässwörd ✓ 密码', stored)).toBe(true);
    expect(await verifyPassword('passwörd ✓ 密码', stored)).toBe(false);
  });

  it('verifies hashes made with other parameters (they are read from the stored string)', async () => {
    const stored = await hashPassword('x');
    const [, , , , salt] = stored.split('$');
    // Build a hash with N=1024, r=4, p=2, 32-byte key by hand.
    const { scryptSync } = await import('node:crypto');
    const key = scryptSync('x', Buffer.from(salt!, 'base64'), 32, { N: 1024, r: 4, p: 2 });
    const other = `scrypt$1024$4$2$${salt}$${key.toString('base64')}`;
    expect(await verifyPassword('x', other)).toBe(true);
    expect(await verifyPassword('y', other)).toBe(false);
  });

  it('returns false for malformed stored strings instead of throwing', async () => {
    const good = await hashPassword('pw');
    const parts = good.split('$');
    const bad = [
      '',
      'garbage',
      'scrypt$',
      good.replace(/^scrypt/, 'bcrypt'),
      parts.slice(0, 5).join('$'),
      `${good}$extra`,
      good.replace('$16384$', '$16383$'), // N not a power of two
      good.replace('$16384$', '$1$'),
      good.replace('$16384$', '$0$'),
      good.replace('$16384$', '$-16384$'),
      good.replace('$16384$', '$1073741824$'), // absurdly large N
      good.replace('$8$1$', '$8$100000$'), // absurdly large p
      good.replace('$8$1$', '$8$1.5$'),
      [...parts.slice(0, 4), '', parts[5]].join('$'), // empty salt
      [...parts.slice(0, 5), ''].join('$'), // empty hash
      [...parts.slice(0, 5), 'not base64!'].join('$'),
      [...parts.slice(0, 5), 'AAAA'].join('$'), // wrong length hash: mismatch, not an error
    ];
    for (const stored of bad) {
      await expect(verifyPassword('pw', stored), stored).resolves.toBe(false);
    }
  });
});

describe('generatePassword', () => {
  it('is 20 characters from the unambiguous alphabet', () => {
    for (let i = 0; i < 50; i++) {
      const pw = generatePassword();
      expect(pw).toHaveLength(20);
      for (const ch of pw) expect(PASSWORD_ALPHABET).toContain(ch);
      expect(pw).not.toMatch(/[0O1lI]/);
    }
  });

  it('does not repeat', () => {
    const seen = new Set(Array.from({ length: 100 }, generatePassword));
    expect(seen.size).toBe(100);
  });

  it('the alphabet has no ambiguous characters and no duplicates', () => {
    expect(PASSWORD_ALPHABET).not.toMatch(/[0O1lI]/);
    expect(new Set(PASSWORD_ALPHABET).size).toBe(PASSWORD_ALPHABET.length);
  });
});
