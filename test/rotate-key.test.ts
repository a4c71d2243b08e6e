/**
 * `census rotate-key`: a new key and every stored credential sealed again under it, while a
 * PostgreSQL cluster keeps running (an API server in this process, a worker in a child process
 * that read the old key file at its start); an interrupted rotation resumed; old keys dropped;
 * SQLite refused while its server runs. The key file format and the key ring are checked first.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rotateKey, type RotateOptions } from '../src/cli/rotate-key.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { formatKeyFile, keyFileSource, loadOrCreateKeys, readKeyFile } from '../src/store/keyfile.ts';
import { AUTH_HOSTS, AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { spawnCensus, type CensusProcess } from './support/processes.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { scratchDatabase } from './support/stores.ts';

const tempDirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'census-rotate-'));
  tempDirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe('the key ring', () => {
  it('opens values sealed before rotation (key 0) and reads the key file again for a key it does not know', () => {
    const dir = tempDir();
    const { ring, source } = loadOrCreateKeys(dir);
    const before = SecretBox.fromRing(ring, source);
    const legacy = before.seal('old secret');
    expect(legacy).toMatch(/^v1:/); // unchanged until a rotation: key 0 seals in the old form

    // Another process rotates: key 1 current, key 0 kept.
    const path = join(dir, 'secret.key');
    const file = readKeyFile(path);
    const keys = new Map(file.keys).set(1, randomBytes(32));
    writeFileSync(path, formatKeyFile({ ...file, keys, current: 1, resealed: false }), { mode: 0o600 });
    const other = SecretBox.fromRing(readKeyFile(path));
    const sealedByOther = other.seal('new secret');
    expect(sealedByOther).toMatch(/^v2:1:/);

    // `before` still holds only key 0 in memory: it meets key 1 and reads the file.
    expect(before.open(sealedByOther)).toBe('new secret');
    expect(before.open(legacy)).toBe('old secret');
    expect(before.seal('x')).toMatch(/^v2:1:/);
  });

  it('seals under the new key as soon as the file changed, even without meeting it', () => {
    const dir = tempDir();
    const { ring, source } = loadOrCreateKeys(dir);
    const box = SecretBox.fromRing(ring, source);
    const path = join(dir, 'secret.key');
    const file = readKeyFile(path);
    writeFileSync(path, formatKeyFile({ ...file, keys: new Map(file.keys).set(4, randomBytes(32)), current: 4 }), { mode: 0o600 });
    expect(SecretBox.keyIdOf(box.seal('y'))).toBe(4);
  });

  it('keeps its keys when the file goes bad, and says so without quoting it', () => {
    const dir = tempDir();
    const { ring, source } = loadOrCreateKeys(dir);
    const box = SecretBox.fromRing(ring, source);
    const sealed = box.seal('kept');
    const path = join(dir, 'secret.key');
    const secretText = readFileSync(path, 'utf8').trim();
    writeFileSync(path, `{"format":"census-secret-keys", ${secretText}`);
    expect(() => box.reload()).toThrow(/is not a Census key file \(not valid JSON\)/);
    try {
      box.reload();
    } catch (err) {
      expect((err as Error).message).not.toContain(secretText.slice(0, 8));
    }
    expect(box.open(sealed)).toBe('kept');
    expect(box.seal('still')).toMatch(/^v1:/);
    expect(() => keyFileSource(path).read()).toThrow(/not valid JSON/);
  });

  it('refuses a value that names a key nobody has, with the usual message', () => {
    const box = SecretBox.fromKey(randomBytes(32));
    const forged = `v2:7:${box.seal('z').split(':').slice(1).join(':')}`;
    expect(() => box.open(forged)).toThrow('secret could not be decrypted (wrong key or damaged data)');
  });
});

describe('census rotate-key on a PostgreSQL cluster', () => {
  const database = scratchDatabase('census_rotate');
  const dataDir = tempDir();
  const pgPort = inject('pgAuthPort');
  let s: TestServer;
  let worker: CensusProcess;
  let admin: pg.Client;
  let sid: string;
  const lines: string[] = [];
  const rotate = (o: Partial<RotateOptions> = {}) => rotateKey({ dataDir, database: database.url, log: (l) => lines.push(l), ...o });
  const secrets = async () => (await admin.query<{ id: number; secret: string }>('SELECT id, secret FROM identities ORDER BY id')).rows;
  const keyIds = async () => (await secrets()).map((r) => SecretBox.keyIdOf(r.secret));

  /** Inventory of every registered server, run by the worker process; returns the session. */
  const inventory = async () => {
    const start = await s.req('POST', '/api/endeavour/job/1004?action=start', { sid });
    expect(start.status).toBe(200);
    const id = start.json.lastrun.sessionId as string;
    return waitFor(async () => {
      const r = await s.req('GET', `/api/endeavour/jobsession/${id}`, { sid });
      return r.json.status === 'RUNNING' ? undefined : r.json;
    }, `session ${id} to end`, 60_000);
  };

  beforeAll(async () => {
    await database.create();
    admin = new pg.Client({ connectionString: database.url });
    s = await startTestServer({ database: database.url, dataDir });
    await admin.connect();
    sid = await s.login();
    // A worker in its own process: it reads the key file now, before any rotation.
    worker = spawnCensus('worker', ['--database', database.url, '--data-dir', dataDir, '--concurrency', '2'], { CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD });
    await worker.started;
    const body = AUTH_HOSTS.slice(0, 3).map((h, i) => ({
      name: `pg-${i + 1}`, hostAddress: h, portNumber: pgPort, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS,
    }));
    expect((await s.req('POST', '/api/appserver?inventory=false', { sid, body })).status).toBe(201);
    const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    expect((await s.req('POST', '/api/identity/key', { sid, body: { name: 'k', username: 'u', privatekey: privateKey, passphrase: 'pp-secret' } })).status).toBe(201);
    expect((await s.req('POST', '/api/identity/user', { sid, body: { name: 'spare', username: 'u2', password: 'Spare-Pass-1' } })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await s?.stop();
    await admin?.end().catch(() => {});
    await database.drop();
  });

  it('inventories with the key every process started with', async () => {
    expect((await secrets()).length).toBeGreaterThanOrEqual(5);
    expect(new Set(await keyIds())).toEqual(new Set([0]));
    const session = await inventory();
    expect(session).toMatchObject({ status: 'COMPLETED', numTasks: 3 });
  });

  it('re-seals everything under a new key while the server and the worker run; both keep working', async () => {
    const before = await secrets();
    const r = await rotate();
    expect(r).toMatchObject({ current: 1, resumed: false, dropped: [] });
    expect(r.resealed).toBe(before.length);
    // Nothing under the old key is left in the database, and every value changed.
    expect(new Set(await keyIds())).toEqual(new Set([1]));
    const after = await secrets();
    for (const [i, row] of after.entries()) expect(row.secret).not.toBe(before[i]!.secret);

    const file = readKeyFile(join(dataDir, 'secret.key'));
    expect(file).toMatchObject({ current: 1, resealed: true });
    expect([...file.keys.keys()].sort()).toEqual([0, 1]); // the old one stays until --drop-old
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);

    // The worker still holds key 0 only in memory: it meets key 1, reads the file and logs in.
    const session = await inventory();
    expect(session).toMatchObject({ status: 'COMPLETED', numTasks: 3 });
    // The server seals new credentials under the new key without being told.
    const created = await s.req('POST', '/api/identity/user', { sid, body: { name: 'after', username: 'u3', password: 'After-Pass-1' } });
    expect(created.status).toBe(201);
    expect(new Set(await keyIds())).toEqual(new Set([1]));
  });

  it('resumes an interrupted rotation when run again, instead of starting another', async () => {
    const n = (await secrets()).length;
    const crash = new Error('simulated crash');
    await expect(rotate({ batchSize: 1, afterBatch: (done) => { if (done === 2) throw crash; } })).rejects.toBe(crash);
    expect((await keyIds()).filter((k) => k === 2)).toHaveLength(2);
    expect((await keyIds()).filter((k) => k === 1)).toHaveLength(n - 2);
    expect(readKeyFile(join(dataDir, 'secret.key'))).toMatchObject({ current: 2, resealed: false });

    // Half way is a working state: both keys open.
    expect(await inventory()).toMatchObject({ status: 'COMPLETED' });

    const r = await rotate();
    expect(r).toMatchObject({ current: 2, resumed: true, resealed: n - 2 });
    expect(new Set(await keyIds())).toEqual(new Set([2]));
    expect(readKeyFile(join(dataDir, 'secret.key'))).toMatchObject({ current: 2, resealed: true });
  });

  it('drops the old keys once nothing is sealed under them, and everything still opens', async () => {
    const r = await rotate({ mode: 'drop-old' });
    expect(r).toMatchObject({ current: 2, resealed: 0, dropped: [0, 1] });
    const file = readKeyFile(join(dataDir, 'secret.key'));
    expect([...file.keys.keys()]).toEqual([2]);
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(await inventory()).toMatchObject({ status: 'COMPLETED', numTasks: 3 });
  });

  it('reloads the key file on SIGHUP in a running worker', async () => {
    const seen = worker.output().length;
    worker.child.kill('SIGHUP');
    await waitFor(async () => (/secret keys reloaded \(current key 2\)/.test(worker.output().slice(seen)) ? true : undefined), 'the worker to log the reload');
    expect(worker.child.exitCode).toBe(null);
  });

  it('never prints a secret or a key', () => {
    const out = lines.join('\n') + worker.output();
    expect(out).not.toContain(AUTH_SUPERPASS);
    expect(out).not.toContain('pp-secret');
    const file = readFileSync(join(dataDir, 'secret.key'), 'utf8');
    for (const m of file.matchAll(/"key": "([^"]+)"/g)) expect(out).not.toContain(m[1]!.slice(0, 12));
  });
});

describe('census rotate-key on SQLite', () => {
  it('refuses while the server runs, and rotates once it is stopped', async () => {
    const dataDir = tempDir();
    const s = await startTestServer({ dataDir });
    let sid = await s.login();
    const created = await s.req('POST', '/api/identity/user', { sid, body: { name: 'one', username: 'u', password: 'One-Pass-1' } });
    expect(created.status).toBe(201);
    // The SMTP password and a webhook's signing secret are sealed too, and re-sealed with the rest.
    const smtp = await s.req('POST', '/api/smtp', { sid, body: { host: 'smtp.example.com', username: 'mailer', password: 'Smtp-Pass-1', sender: 'census@example.com' } });
    expect(smtp.status).toBe(201);
    const hook = await s.req('POST', '/api/census/webhook', { sid, body: { url: 'https://hooks.example.com/census', events: ['session.ended'], secret: 'Hook-Secret-0123456789' } });
    expect(hook.status).toBe(201);
    const lines: string[] = [];
    await expect(rotateKey({ dataDir, log: (l) => lines.push(l) })).rejects.toThrow(/census\.db is open in another process \(a running Census server\?\): stop it/);
    expect(readFileSync(join(dataDir, 'secret.key'), 'utf8').trim().startsWith('{')).toBe(false); // untouched
    await s.stop();

    const r = await rotateKey({ dataDir, log: (l) => lines.push(l) });
    expect(r).toMatchObject({ current: 1, resealed: 3 });
    const again = await startTestServer({ dataDir });
    try {
      sid = await again.login();
      expect(again.census.reloadKeys()).toBe(1); // it seals under the new key
      const identity = await again.census.store.identities.get(created.json.id as number);
      expect(SecretBox.keyIdOf(identity!.secret)).toBe(1);
      // The key file the restarted server read opens it.
      const box = SecretBox.fromRing(readKeyFile(join(dataDir, 'secret.key')));
      expect(box.open(identity!.secret)).toBe('One-Pass-1');
      const mail = await again.census.store.smtp.get();
      expect(SecretBox.keyIdOf(mail!.password!)).toBe(1);
      expect(box.open(mail!.password!)).toBe('Smtp-Pass-1');
      const webhook = await again.census.store.webhooks.get(Number(hook.json.id));
      expect(SecretBox.keyIdOf(webhook!.secret)).toBe(1);
      expect(box.open(webhook!.secret)).toBe('Hook-Secret-0123456789');
      for (const secret of ['One-Pass-1', 'Smtp-Pass-1', 'Hook-Secret-0123456789']) expect(lines.join('\n')).not.toContain(secret);
    } finally {
      await again.stop();
    }
  }, 60_000);
});

describe('census rotate-key: staging, the lock, CENSUS_SECRET_KEY', () => {
  it('stages a key without sealing with it, then makes that one current', async () => {
    const dataDir = tempDir();
    const s = await startTestServer({ dataDir });
    const sid = await s.login();
    await s.req('POST', '/api/identity/user', { sid, body: { name: 'one', username: 'u', password: 'One-Pass-1' } });
    await s.stop();
    const quiet = { dataDir, log: () => {} };
    expect(await rotateKey({ ...quiet, mode: 'stage' })).toMatchObject({ current: 0, resealed: 0 });
    const staged = readKeyFile(join(dataDir, 'secret.key'));
    expect(staged.current).toBe(0);
    expect([...staged.keys.keys()].sort()).toEqual([0, 1]);
    await expect(rotateKey({ ...quiet, mode: 'stage' })).rejects.toThrow(/key 1 is staged already/);
    expect(await rotateKey(quiet)).toMatchObject({ current: 1, resealed: 1 });
    expect([...readKeyFile(join(dataDir, 'secret.key')).keys.keys()].sort()).toEqual([0, 1]);
  }, 60_000);

  it('refuses while another run holds the lock, and takes over one left by a process that is gone', async () => {
    const dataDir = tempDir();
    const s = await startTestServer({ dataDir });
    await s.stop();
    const lock = join(dataDir, 'secret.key.lock');
    writeFileSync(lock, `elsewhere.example 4242\n`);
    await expect(rotateKey({ dataDir, log: () => {} })).rejects.toThrow(/secret\.key\.lock says census rotate-key \(process 4242 on elsewhere\.example\) is running/);
    // This machine, a process id nobody has: a run that was killed.
    writeFileSync(lock, `${hostname()} 2147483646\n`);
    expect(await rotateKey({ dataDir, log: () => {} })).toMatchObject({ current: 1 });
    expect(existsSync(lock)).toBe(false);
  }, 60_000);

  it('says there is no key file to rotate when CENSUS_SECRET_KEY gives the key', async () => {
    const dataDir = tempDir();
    const out = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'rotate-key', '--data-dir', dataDir], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, CENSUS_SECRET_KEY: randomBytes(32).toString('base64') },
      encoding: 'utf8',
    });
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('CENSUS_SECRET_KEY gives the key, so there is no key file to rotate');
  }, 60_000);
});
