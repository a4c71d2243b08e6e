/**
 * The data directory is owner-only at every start: a directory and files left readable by others
 * (an older Census, a restore, a careless copy) are fixed, SQLite's -wal and -shm are private
 * from birth, and a start that cannot make it so is refused with a message naming the path.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCensus } from '../../src/main.ts';
import { createPrivateFile, makeDataDirPrivate } from '../../src/store/data-dir.ts';
import { Store } from '../../src/store/index.ts';
import { startTestServer, waitFor } from '../support/server.ts';

const mode = (p: string) => statSync(p).mode & 0o7777;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'census-datadir-'));
  dirs.push(d);
  return d;
};

/** Every path under `dir` (dir included) with its mode. */
function modes(dir: string): Record<string, number> {
  const out: Record<string, number> = { '.': mode(dir) };
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out[r] = mode(join(d, e.name));
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out;
}

const startIn = (dataDir: string) =>
  startCensus({ dataDir, port: 0, http: false, scheduler: false, adminPassword: 'Test-Admin-Pass-1', retries: 0, retryDelayMs: 10 });

describe('the data directory', () => {
  // The usual umask, which lets group and others read new files: the modes checked below must
  // come from Census, not from a strict umask of whoever runs the tests.
  let umask = 0;
  beforeAll(() => {
    umask = process.umask(0o022);
  });
  afterAll(() => {
    process.umask(umask);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('fixes a 0755 directory holding a 0644 database, its -wal and the key left by an earlier start', async () => {
    const dir = join(tempDir(), 'data');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    // What an earlier, laxer Census left: a real database with its WAL open, a key, a TLS dir.
    const old = await Store.open({ url: join(dir, 'census.db') });
    await old.users.create('someone', 'x', 1);
    mkdirSync(join(dir, 'tls'), { mode: 0o755 });
    writeFileSync(join(dir, 'tls', 'note'), 'x', { mode: 0o644 });
    writeFileSync(join(dir, 'secret.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o644 });
    for (const f of ['census.db', 'census.db-wal', 'census.db-shm']) if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o644);
    chmodSync(join(dir, 'tls'), 0o755);
    await old.close();
    expect(mode(dir)).toBe(0o755);
    expect(mode(join(dir, 'census.db'))).toBe(0o644);

    const census = await startIn(dir);
    try {
      const seen = modes(dir);
      expect(seen['.']).toBe(0o700);
      expect(seen.tls).toBe(0o700);
      for (const f of ['census.db', 'census.db-wal', 'census.db-shm', 'secret.key', 'tls/note', 'tls/key.pem', 'tls/cert.pem']) {
        expect(seen[f], f).toBe(0o600);
      }
      expect(await census.store.users.byName('someone')).toBeDefined();
    } finally {
      await census.stop();
    }
  });

  it('has SQLite create -wal and -shm 0600 when the database file was created 0600 (no sweep involved)', async () => {
    const dir = tempDir();
    const db = join(dir, 'census.db');
    createPrivateFile(db);
    const store = await Store.open({ url: db });
    try {
      await store.users.create('someone', 'x', 1);
      expect(mode(`${db}-wal`)).toBe(0o600);
      expect(mode(`${db}-shm`)).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  it('keeps a new server\'s data dir owner-only while it runs and writes', async () => {
    const s = await startTestServer({ dataDir: join(tempDir(), 'fresh') });
    try {
      const sid = await s.login(); // writes: the WAL grows
      expect((await s.req('POST', '/api/identity/user', { sid, body: { name: 'n', username: 'u', password: 'p' } })).status).toBe(201);
      const wal = join(s.dataDir, 'census.db-wal');
      await waitFor(async () => (existsSync(wal) && existsSync(`${wal.slice(0, -4)}-shm`) ? true : undefined), 'the -wal and -shm files');
      const seen = modes(s.dataDir);
      expect(seen['.']).toBe(0o700);
      for (const [path, m] of Object.entries(seen)) expect(m & 0o077, path).toBe(0);
      expect(seen['census.db-wal']).toBe(0o600);
      expect(seen['census.db-shm']).toBe(0o600);
    } finally {
      await s.stop();
      rmSync(s.dataDir, { recursive: true, force: true });
    }
  });

  it('takes away only the bits of group and others, and follows a link to the file it names', () => {
    const root = tempDir();
    const dir = join(root, 'd');
    mkdirSync(dir);
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    chmodSync(join(dir, 'tool'), 0o755);
    writeFileSync(join(root, 'elsewhere.db'), 'x', { mode: 0o644 });
    chmodSync(join(root, 'elsewhere.db'), 0o644);
    symlinkSync(join(root, 'elsewhere.db'), join(dir, 'linked.db'));
    symlinkSync(dir, join(dir, 'loop')); // a link back up must not send the walk in circles
    makeDataDirPrivate(dir);
    expect(mode(join(dir, 'tool'))).toBe(0o700);
    expect(mode(join(root, 'elsewhere.db'))).toBe(0o600);
  });

  it('refuses to start, naming the path, when the data directory is not a directory', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    await expect(startIn(file)).rejects.toThrow(`refusing to start: ${file} is not a directory`);
  });

  it.skipIf(process.getuid?.() !== 0)('refuses to start, naming the file, when something in it belongs to another user', async () => {
    // As root, chmod never fails; a file of another user is what cannot be made private (its
    // owner could still read it), so that is the refusal to prove.
    const dir = tempDir();
    const foreign = join(dir, 'census.db');
    writeFileSync(foreign, '');
    chownSync(foreign, 65534, 65534);
    const err = await startIn(dir).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain(`refusing to start: ${foreign} belongs to user id 65534`);
    expect(err?.message).toContain('--data-dir');
  });
});
