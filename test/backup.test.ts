/**
 * `census backup` and `census restore`, as real processes against a real server: a backup taken
 * while the server runs an inventory and takes registrations is one consistent moment; a server
 * starts on the restored directory with everything there and the stored credentials opening;
 * restore refuses a non-empty directory, a directory a server uses, and damaged or wrong files.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeArchive } from '../src/cli/archive.ts';
import { restore } from '../src/cli/backup.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { loadOrCreateKey } from '../src/store/keyfile.ts';
import { snapshot, type Get } from './fixtures/upgrade-fixture.ts';
import { silentListener, type SilentListener } from './support/silent-listener.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';

const root = new URL('..', import.meta.url).pathname;

/** Runs the census command as a user would; resolves with its exit code and output. */
function census(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string }> {
  const merged = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, env: merged, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

/** The names in a backup, as tar itself lists them. */
function list(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('tar', ['-tzf', file], (err, stdout) => (err ? reject(err) : resolve(stdout.trim().split('\n'))));
  });
}

const getter = (s: TestServer, sid: string): Get => async (path) => {
  const r = await s.req('GET', path, { sid });
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
  return r.json;
};

describe('census backup and restore', () => {
  const work = mkdtempSync(join(tmpdir(), 'census-backup-'));
  let s: TestServer;
  let sid: string;
  let silent: SilentListener;
  const backupFile = join(work, 'census-backup.tar.gz');
  const restored = join(work, 'restored');
  /** Identities acknowledged before the backup started, and all acknowledged by its end. */
  let before: string[] = [];
  let after: string[] = [];
  let snapBefore: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    silent = await silentListener();
    s = await startTestServer({ dataDir: join(work, 'live'), taskTimeoutMs: 60_000 });
    sid = await s.login();
  });

  afterAll(async () => {
    // The listener first: the hung task then ends at once instead of at its timeout.
    await silent?.close();
    await s?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('backs up a running server in the middle of an inventory and of registrations', async () => {
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'pg login', username: 'postgres', password: 'Backup-Pg-Pass-1' } });
    expect(ident.status).toBe(201);
    const pg = await s.req('POST', '/api/appserver', { sid, body: { name: 'pg-local', hostAddress: '127.0.0.1', portNumber: 5432, applicationType: 'postgresql', osuser: { href: `${s.url}/api/identity/user/${ident.json.id}` } } });
    expect(pg.status).toBe(201);
    const hang = await s.req('POST', '/ngp/appserver', { sid, body: { name: 'hangs', hostAddress: '127.0.0.1', portNumber: silent.port, applicationType: 'postgresql', username: 'u', password: 'Backup-Hang-Pass-1' } });
    expect(hang.status).toBe(201);
    const first = await s.req('POST', `/api/appserver/${pg.json.id}?action=inventory`, { sid, body: {} });
    expect(first.status).toBe(200);
    await waitFor(async () => ((await s.req('GET', `/api/endeavour/jobsession/${first.json.sessionId}`, { sid })).json.status === 'COMPLETED' ? true : undefined), 'first inventory');
    snapBefore = await snapshot(getter(s, sid));

    // An inventory that will not end while the backup runs (its server never answers) …
    const running = await s.req('POST', `/api/appserver/${hang.json.response.id}?action=inventory`, { sid, body: {} });
    expect(running.status, running.text).toBe(200);
    // … and registrations, one after another, all through the backup.
    let writing = true;
    let n = 0;
    const acked: string[] = [];
    const writer = (async () => {
      while (writing) {
        const name = `during-${n++}`;
        const r = await s.req('POST', '/api/identity/user', { sid, body: { name, username: name, password: `pw-${name}` } });
        if (r.status !== 201) throw new Error(`registration failed: ${r.status} ${r.text}`);
        acked.push(name);
      }
    })();
    await waitFor(async () => (acked.length >= 3 ? true : undefined), 'registrations to flow');
    before = [...acked];
    const b = await census(['backup', '--data-dir', s.dataDir, '--to', backupFile]);
    writing = false;
    await writer;
    after = [...acked];
    expect(b.out).toMatch(/holds the secret key/);
    expect(b.code).toBe(0);
    expect(after.length).toBeGreaterThan(before.length); // writes really went on during the backup
    expect((await s.req('GET', `/api/endeavour/jobsession/${running.json.sessionId}`, { sid })).json.status).toBe('RUNNING');

    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    expect(await list(backupFile)).toEqual(['manifest.json', 'census.db', 'secret.key', 'tls/key.pem', 'tls/cert.pem']);
    // The second backup to the same name needs --force.
    const again = await census(['backup', '--data-dir', s.dataDir, '--to', backupFile]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/exists; .*--force/);
  });

  it('restores into a new directory, and a server starts on it with everything there', async () => {
    const r = await census(['restore', '--from', backupFile, '--data-dir', restored]);
    expect(r.out).toMatch(/the key opens all \d+ stored credential/);
    expect(r.code).toBe(0);
    for (const f of ['census.db', 'secret.key', 'tls/key.pem', 'tls/cert.pem']) expect(statSync(join(restored, f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(restored, 'tls/cert.pem'), 'utf8')).toBe(readFileSync(join(s.dataDir, 'tls/cert.pem'), 'utf8'));

    // The resumed task hangs on the silent listener, as it did at the backup, until the test lets
    // it go: with a short task timeout it could end before the snapshot below saw it RUNNING.
    const t = await startTestServer({ dataDir: restored, taskTimeoutMs: 60_000 });
    try {
      const tsid = await t.login();
      const snap = await snapshot(getter(t, tsid));
      // What had ended before the backup is there as it was.
      expect(snap.jobs).toEqual(snapBefore.jobs);
      expect(snap.appservers).toEqual(snapBefore.appservers);
      expect(snap.instances).toEqual(snapBefore.instances);
      const ids = (xs: { id: unknown }[]) => new Set(xs.map((x) => String(x.id)));
      const earlier = ids(snapBefore.sessions);
      expect(snap.sessions.filter((x) => earlier.has(String(x.id)))).toEqual(snapBefore.sessions);
      const earlierLogs = ids(snapBefore.logs);
      expect(snap.logs.filter((x) => earlierLogs.has(String(x.id)))).toEqual(snapBefore.logs);

      // One moment: every registration acknowledged before the backup started, none that was not
      // acknowledged by its end, and no gap (the writer registered them in order).
      const names = snap.identities.users.map((u: { name: string }) => u.name).filter((x: string) => x.startsWith('during-'));
      expect(names.length).toBeGreaterThanOrEqual(before.length);
      expect(names.length).toBeLessThanOrEqual(after.length);
      expect(names).toEqual(after.slice(0, names.length));

      // The session that was running at the backup is taken up again and ends.
      const live = snap.sessions.filter((x) => !earlier.has(String(x.id)));
      expect(live.map((x) => x.status)).toEqual(['RUNNING']);
      // Its server stops hanging (the listener goes, so the live server's hung task ends too): the
      // resumed task fails at once and the session ends.
      await silent.close();
      await waitFor(async () => ((await t.req('GET', `/api/endeavour/jobsession/${live[0]!.id}`, { sid: tsid })).json.status === 'RUNNING' ? undefined : true), 'the resumed session to end');

      // The sealed credentials open: with the restored key, to the very passwords registered …
      const box = SecretBox.fromKey(loadOrCreateKey(restored));
      const stored = await t.census.store.db.selectFrom('identities').select(['name', 'secret']).where('name', 'like', 'during-%').execute();
      expect(stored.length).toBe(names.length);
      for (const i of stored) expect(box.open(i.secret)).toBe(`pw-${i.name}`);
      // … and the server uses them: the connection test logs in to PostgreSQL.
      const pgId = snap.appservers.find((a: { name: string }) => a.name === 'pg-local')!.id;
      const test = await t.req('POST', `/api/appserver/${pgId}?action=test`, { sid: tsid, body: {} });
      expect(test.status).toBe(200);
      const checks = test.json.configGroups[0].tests as { name: string; status: string }[];
      expect(checks.length).toBeGreaterThan(1);
      expect(checks.filter((c) => c.status === 'FAILED')).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it('refuses a directory that is not empty, or that a running server uses', async () => {
    const full = join(work, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'something'), 'x');
    const r1 = await census(['restore', '--from', backupFile, '--data-dir', full]);
    expect(r1.code).toBe(1);
    expect(r1.out).toMatch(/is not empty; .*--force/);

    const r2 = await census(['restore', '--from', backupFile, '--data-dir', s.dataDir, '--force']);
    expect(r2.code).toBe(1);
    expect(r2.out).toMatch(/census\.db is open in another process \(a running Census server\?\): stop it first/);
    expect((await s.req('GET', '/api/endeavour/job', { sid })).status).toBe(200);

    // Once that server is gone, --force replaces its files.
    const copy = join(work, 'stopped');
    expect((await census(['restore', '--from', backupFile, '--data-dir', copy])).code).toBe(0);
    const u = await startTestServer({ dataDir: copy });
    const r3 = await census(['restore', '--from', backupFile, '--data-dir', copy, '--force']);
    expect(r3.code).toBe(1);
    await u.stop();
    const r4 = await census(['restore', '--from', backupFile, '--data-dir', copy, '--force']);
    expect(r4.out).toMatch(/Restored/);
    expect(r4.code).toBe(0);
  });

  it('refuses a damaged file, a damaged database and a wrong key, leaving nothing behind', async () => {
    const bytes = readFileSync(backupFile);
    const cases: [string, Buffer, RegExp][] = [
      ['cut', bytes.subarray(0, Math.floor(bytes.length / 2)), /is not a whole Census backup: unexpected end of file/],
      ['flipped', Buffer.concat([bytes.subarray(0, 2000), Buffer.from([bytes[2000]! ^ 0xff]), bytes.subarray(2001)]), /is not a whole Census backup/],
      ['not-gzip', Buffer.from('just some text\n'), /is not a whole Census backup/],
    ];
    // Well-formed archives around bad content: checksums match, so only the deeper checks catch them.
    const stage = join(work, 'stage');
    mkdirSync(stage);
    const made = async (name: string, files: Record<string, Buffer>) => {
      const manifest = {
        format: 'census-backup', formatVersion: 1, census: 'test', createdAt: new Date().toISOString(), database: 'sqlite', schemaVersion: 1, key: 'included',
        files: Object.entries(files).map(([n, b]) => ({ name: n, size: b.length, sha256: createHash('sha256').update(b).digest('hex') })),
      };
      const file = join(stage, `${name}.tar.gz`);
      await writeArchive(file, [{ name: 'manifest.json', from: Buffer.from(JSON.stringify(manifest)) }, ...Object.entries(files).map(([n, b]) => ({ name: n, from: b }))]);
      return readFileSync(file);
    };
    const key = readFileSync(join(s.dataDir, 'secret.key'));
    const db = readFileSync(join(restored, 'census.db'));
    const damagedDb = Buffer.from(db);
    damagedDb.fill(0x5a, 4096 * 3, 4096 * 5); // two pages of garbage in the middle
    cases.push(['damaged-db', await made('damaged-db', { 'census.db': damagedDb, 'secret.key': key }), /damaged|integrity check/]);
    cases.push(['wrong-key', await made('wrong-key', { 'census.db': db, 'secret.key': Buffer.from(`${randomBytes(32).toString('base64')}\n`) }), /does not open \d+ of the \d+ stored credential\(s\): wrong key/]);
    cases.push(['no-key', await made('no-key', { 'census.db': db }), /holds no key/]);

    // In this process (the command is tested as a process above): six process starts saved.
    const envKey = process.env.CENSUS_SECRET_KEY;
    delete process.env.CENSUS_SECRET_KEY;
    try {
      for (const [name, content, message] of cases) {
        const file = join(work, `${name}.tar.gz`);
        writeFileSync(file, content);
        const target = join(work, `target-${name}`);
        await expect(restore(['--from', file, '--data-dir', target]), name).rejects.toThrow(message);
        expect(existsSync(target), name).toBe(false);
      }
    } finally {
      if (envKey !== undefined) process.env.CENSUS_SECRET_KEY = envKey;
    }
  });

  it('leaves a key given by CENSUS_SECRET_KEY out of the backup, and needs it back to restore', async () => {
    const envKey = randomBytes(32).toString('base64');
    const k = await startTestServer({ dataDir: join(work, 'env-live'), secretKey: envKey });
    try {
      const ksid = await k.login();
      expect((await k.req('POST', '/api/identity/user', { sid: ksid, body: { name: 'x', username: 'x', password: 'Env-Key-Pass-1' } })).status).toBe(201);
      const file = join(work, 'env.tar.gz');
      const b = await census(['backup', '--data-dir', k.dataDir, '--to', file], { CENSUS_SECRET_KEY: envKey });
      expect(b.code).toBe(0);
      expect(b.out).toMatch(/secret key is NOT in the file: it comes from CENSUS_SECRET_KEY/);
      expect(await list(file)).not.toContain('secret.key');
      const target = join(work, 'env-restored');
      const without = await census(['restore', '--from', file, '--data-dir', target], { CENSUS_SECRET_KEY: undefined });
      expect(without.code).toBe(1);
      expect(without.out).toMatch(/holds no key .*set CENSUS_SECRET_KEY/);
      const wrong = await census(['restore', '--from', file, '--data-dir', target], { CENSUS_SECRET_KEY: randomBytes(32).toString('base64') });
      expect(wrong.code).toBe(1);
      expect(wrong.out).toMatch(/CENSUS_SECRET_KEY does not open 1 of the 1/);
      const right = await census(['restore', '--from', file, '--data-dir', target], { CENSUS_SECRET_KEY: envKey });
      expect(right.code).toBe(0);
      expect(existsSync(join(target, 'secret.key'))).toBe(false);
    } finally {
      await k.stop();
    }
  });
});
