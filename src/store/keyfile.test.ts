import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it, expect } from 'vitest';
import { loadOrCreateKey } from './keyfile.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'census-keyfile-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadOrCreateKey', () => {
  it('creates the key file once and returns the same key afterwards', () => {
    const dir = tempDir();
    const first = loadOrCreateKey(dir);
    expect(first).toHaveLength(32);
    const path = join(dir, 'secret.key');
    expect(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64').equals(first)).toBe(true);
    const second = loadOrCreateKey(dir);
    expect(second.equals(first)).toBe(true);
    // No temp files left behind.
    expect(readdirSync(dir)).toEqual(['secret.key']);
  });

  it('writes the key file with mode 0600', () => {
    const dir = tempDir();
    loadOrCreateKey(dir);
    expect(statSync(join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
  });

  it('creates a missing data dir with mode 0700', () => {
    const dir = join(tempDir(), 'nested', 'data');
    const key = loadOrCreateKey(dir);
    expect(key).toHaveLength(32);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('uses the key from the environment and writes nothing', () => {
    const dir = tempDir();
    const key = randomBytes(32);
    expect(loadOrCreateKey(dir, key.toString('base64')).equals(key)).toBe(true);
    expect(loadOrCreateKey(dir, `  ${key.toString('base64')}\n`).equals(key)).toBe(true);
    expect(existsSync(join(dir, 'secret.key'))).toBe(false);
  });

  it('rejects an environment key that is not 32 bytes, without echoing it', () => {
    const dir = tempDir();
    const short = randomBytes(16).toString('base64');
    expect(() => loadOrCreateKey(dir, short)).toThrow(/CENSUS_SECRET_KEY.*exactly 32.*got 16 bytes/);
    try {
      loadOrCreateKey(dir, short);
    } catch (err) {
      expect((err as Error).message).not.toContain(short);
    }
    expect(() => loadOrCreateKey(dir, '')).toThrow(/CENSUS_SECRET_KEY/);
    expect(() => loadOrCreateKey(dir, 'not base64 at all!')).toThrow(/not base64/);
    expect(() => loadOrCreateKey(dir, randomBytes(33).toString('base64'))).toThrow(/got 33 bytes/);
  });

  it('rejects a damaged key file instead of replacing it', () => {
    const dir = tempDir();
    const path = join(dir, 'secret.key');
    writeFileSync(path, 'AAAA\n', { mode: 0o600 });
    expect(() => loadOrCreateKey(dir)).toThrow(/secret\.key must be base64 of exactly 32/);
    expect(readFileSync(path, 'utf8')).toBe('AAAA\n');
  });
});
