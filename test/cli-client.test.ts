/**
 * The `census` client commands as an operator runs them: real child processes
 * (`node --import tsx src/cli/main.ts …`) against a real Census over HTTPS with its self-signed
 * certificate, with HOME and XDG_CONFIG_HOME in a temp dir. Every command runs at least once, with
 * `--json` parsed, and every documented exit code is produced by a real job session.
 */
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KnownServers, SessionStore } from '../src/cli/client/config.ts';
import { EventStream, SseParser } from '../src/cli/client/events.ts';
import { humanDuration, humanSize, humanTime, progressBar, progressLine, table } from '../src/cli/client/format.ts';
import { Api, Transport } from '../src/cli/client/http.ts';
import type { Io } from '../src/cli/client/io.ts';
import { waitForSession } from '../src/cli/client/wait.ts';
import { AUTH_HOSTS, AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { runCli as run, startCli as start } from './support/cli.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { silentListener, type SilentListener } from './support/silent-listener.ts';

/** Runs and parses stdout as JSON, failing with the output if it is not. */
async function runJson(home: string, args: string[], o: { env?: Record<string, string>; input?: string } = {}) {
  const r = await run(home, [...args, '--json'], o);
  expect(r.code, `census ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return JSON.parse(r.stdout) as any;
}

/**
 * A plain-HTTP proxy in front of the test server whose event stream is missing (404, as on a
 * server from before it) or answers only `reset`; it counts the requests per path.
 */
async function proxyWithoutEvents(target: string, mode: '404' | 'reset', afterStreamProgress: () => void = () => {}) {
  const counts = new Map<string, number>();
  const upstream = new https.Agent({ rejectUnauthorized: false, keepAlive: true });
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    // The session read once the stream was asked for: the CLI's first look at its progress.
    if (counts.has('/api/endeavour/events') && /^\/api\/endeavour\/jobsession\/\d+$/.test(path)) res.on('finish', afterStreamProgress);
    if (path === '/api/endeavour/events') {
      if (mode === '404') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'XSBObjectNotFoundException', description: 'Not found.' }));
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`retry: 2000\n\nid: 7\nevent: reset\ndata: ${JSON.stringify({ reason: 'expired', lastEventId: '1', oldest: '5' })}\n\n`);
      }
      return;
    }
    const up = https.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers, agent: upstream }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: (path: string) => counts.get(path) ?? 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      upstream.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * A relay to the test cluster that holds every connection until open(): an inventory task through
 * it waits, so its session is still running when the test wants it to be.
 */
async function heldRelay(targetPort: number) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.pause();
    client.on('error', () => client.destroy());
    void opened.then(() => {
      const up = net.connect(targetPort, '127.0.0.1');
      sockets.add(up);
      const done = () => { client.destroy(); up.destroy(); };
      up.on('error', done).on('close', done);
      client.on('close', done);
      client.pipe(up);
      up.pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    open,
    close: () => new Promise<void>((resolve) => { open(); for (const x of sockets) x.destroy(); server.close(() => resolve()); }),
  };
}

const PLAIN_LINE = /^\d\d:\d\d:\d\d (RUNNING|CANCELLING|COMPLETED|PARTIAL|FAILED|CANCELLED) \d{1,3}% \d+\/\d+ tasks$/;

describe('census client commands', () => {
  const pgPort = inject('pgAuthPort');
  const home = mkdtempSync(join(tmpdir(), 'census-cli-home-'));
  const configDir = join(home, '.config', 'census');
  let s: TestServer;
  let sid: string;
  let hang: SilentListener | undefined;

  const good = () => ({ name: 'good', hostAddress: AUTH_HOSTS[0]!, portNumber: pgPort, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS });
  const bad = () => ({ name: 'bad', hostAddress: AUTH_HOSTS[1]!, portNumber: pgPort, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: 'not-the-password' });

  /** Leaves exactly these application servers registered (through the API, without inventory). */
  async function registerOnly(servers: object[]): Promise<void> {
    const all = (await s.req('GET', '/api/appserver?pageSize=1000', { sid })).json.appservers as { id: string }[];
    for (const a of all) expect((await s.req('DELETE', `/api/appserver/${a.id}`, { sid })).status).toBe(204);
    if (servers.length) expect((await s.req('POST', '/api/appserver?action=bulk&inventory=false', { sid, body: servers })).status).toBe(201);
  }

  /** The client's Api in this process, logged in as admin, keeping its login session in `sessionsFile`. */
  function adminApi(sessionsFile: string): Api {
    const url = new URL(s.url);
    const transport = new Transport(url, true, new KnownServers(join(configDir, 'known_servers.json')), () => {});
    return new Api(transport, { url, user: 'admin', password: ADMIN_PASSWORD, insecure: true, sources: { url: 'test', user: 'test', password: 'test' } },
      new SessionStore(join(home, sessionsFile)));
  }

  /** Cancels whatever session of job 1004 runs, and waits until it has ended. */
  async function settle(): Promise<void> {
    await s.req('POST', '/api/endeavour/job/1004?action=cancel', { sid });
    await waitFor(async () => ((await s.req('GET', '/api/endeavour/job/1004', { sid })).json.status === 'RUNNING' ? undefined : true), 'job 1004 to be idle');
  }

  beforeAll(async () => {
    // Tasks of a host that never answers hang until cancelled (or --timeout gives up waiting).
    s = await startTestServer({ taskTimeoutMs: 120_000 });
    sid = await s.login();
  });
  afterAll(async () => {
    await hang?.close();
    await s?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('exits 2 with the command usage on usage errors; --help lists commands and exit codes', async () => {
    const missing = await run(home, ['job', 'status']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('census: missing ID');
    expect(missing.stderr).toContain('Usage: census job status ID [--wait] [--follow] [--timeout S]');

    const notNumber = await run(home, ['job', 'run', 'abc']);
    expect(notNumber.code).toBe(2);
    expect(notNumber.stderr).toContain('ID must be a number');

    const unknown = await run(home, ['job', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "job frobnicate"');
    expect(unknown.stderr).toContain('census job run ID');

    const badOption = await run(home, ['session', 'list', '--bogus']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/Unknown option '--bogus'/);
    expect(badOption.stderr).toContain('Usage: census session list');

    const noHost = await run(home, ['appserver', 'add', '--name', 'x', '--type', 'postgresql', '--user', 'u', '--password', 'p']);
    expect(noHost.code).toBe(2);
    expect(noHost.stderr).toContain('--host is required');

    const help = await run(home, ['--help']);
    expect(help.code).toBe(0);
    for (const text of ['census job run', 'census inventory show', 'census server', 'Exit codes:', '3  the job session ended PARTIAL', '6  --timeout ran out']) {
      expect(help.stdout).toContain(text);
    }
    const runHelp = await run(home, ['job', 'run', '--help']);
    expect(runHelp.code).toBe(0);
    expect(runHelp.stdout).toContain('--timeout S');
  });

  it('refuses the self-signed certificate without --insecure, and a wrong password with the server\'s message', async () => {
    const untrusted = await run(home, ['job', 'list', '--url', s.url, '--user', 'admin', '--password', ADMIN_PASSWORD]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted .*--insecure/);

    const wrong = await run(home, ['login', '--url', s.url, '--user', 'admin', '--password', 'wrong-password', '--insecure']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('census: Authentication failed: incorrect user name or password. (HTTP 401 XSBAuthenticationException)');
    // The first --insecure connection pinned the server's certificate.
    expect(wrong.stderr).toContain('pinned the certificate of');
    const cert = new X509Certificate(readFileSync(join(s.dataDir, 'tls', 'cert.pem')));
    const pins = JSON.parse(readFileSync(join(configDir, 'known_servers.json'), 'utf8'));
    expect(pins[`127.0.0.1:${new URL(s.url).port}`].sha256).toBe(cert.fingerprint256);
    expect(statSync(join(configDir, 'known_servers.json')).mode & 0o777).toBe(0o600);
  });

  it('login keeps url, user and the session (not the password); later commands need no flags', async () => {
    const login = await run(home, ['login', '--url', s.url, '--user', 'admin', '--password', ADMIN_PASSWORD, '--insecure']);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain(`Logged in to ${s.url} as admin.`);
    expect(login.stderr).not.toContain('pinned'); // pinned already, by the test before
    const configFile = join(configDir, 'config.json');
    expect(JSON.parse(readFileSync(configFile, 'utf8'))).toEqual({ url: s.url, user: 'admin', insecure: true });
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    const sessions = JSON.parse(readFileSync(join(configDir, 'sessions.json'), 'utf8'));
    expect(sessions[s.url]).toMatchObject({ user: 'admin', sessionId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(sessions[s.url].expiresAt).toBeGreaterThan(Date.now() + 40 * 60_000);
    expect(readFileSync(join(configDir, 'sessions.json'), 'utf8')).not.toContain(ADMIN_PASSWORD);

    const list = await run(home, ['job', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATUS\s+LAST RESULT\s+LAST RUN\s+DURATION\s+NEXT RUN$/);
    expect(list.stdout).toMatch(/^1004\s+Application Server Inventory\s+IDLE\s+COMPLETED/m);
    const jobs = await runJson(home, ['job', 'list']);
    expect(jobs.map((j: { id: string }) => j.id)).toEqual(['1001', '1004', '1005', '1006']);

    const status = await run(home, ['job', 'status', '1004']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('Job 1004  Application Server Inventory');
    expect(status.stdout).toMatch(/last result\s+COMPLETED/);
    const statusJson = await runJson(home, ['job', 'status', '1004']);
    expect(statusJson).toMatchObject({ id: '1004', name: 'Application Server Inventory', status: 'IDLE', lastSessionStatus: 'COMPLETED' });

    // Flags win over the environment, which wins over the config file.
    const nowhere = 'https://127.0.0.1:9';
    const envWins = await run(home, ['job', 'list'], { env: { CENSUS_URL: nowhere, CENSUS_PASSWORD: ADMIN_PASSWORD } });
    expect(envWins.code).toBe(1);
    expect(envWins.stderr).toContain(`cannot connect to ${nowhere}: connection refused`);
    const flagWins = await run(home, ['job', 'list', '--url', s.url], { env: { CENSUS_URL: nowhere } });
    expect(flagWins.code, flagWins.stderr).toBe(0);

    // A session the server forgot: without a password the user is told to log in again …
    const forged = { ...sessions, [s.url]: { ...sessions[s.url], sessionId: '0'.repeat(32) } };
    writeFileSync(join(configDir, 'sessions.json'), JSON.stringify(forged));
    const expired = await run(home, ['job', 'list']);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toContain('has expired; run `census login` again');
    // … with one (here from the environment) the command logs in again and keeps the new session.
    writeFileSync(join(configDir, 'sessions.json'), JSON.stringify(forged));
    const renewed = await run(home, ['job', 'list'], { env: { CENSUS_PASSWORD: ADMIN_PASSWORD } });
    expect(renewed.code, renewed.stderr).toBe(0);
    const fresh = JSON.parse(readFileSync(join(configDir, 'sessions.json'), 'utf8'))[s.url].sessionId;
    expect(fresh).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh).not.toBe('0'.repeat(32));

    // --save-password (into another config file, given with --config) keeps it, readable only by the owner.
    const other = join(home, 'other-config.json');
    const saved = await run(home, ['login', '--config', other, '--url', s.url, '--user', 'admin', '--password-stdin', '--insecure', '--save-password'], { input: `${ADMIN_PASSWORD}\n` });
    expect(saved.code, saved.stderr).toBe(0);
    expect(JSON.parse(readFileSync(other, 'utf8'))).toEqual({ url: s.url, user: 'admin', insecure: true, password: ADMIN_PASSWORD });
    expect(statSync(other).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')).password).toBeUndefined();
  }, 60_000);

  it('identity add, list and remove, with a password, a password on stdin and an SSH key', async () => {
    const pw = await runJson(home, ['identity', 'add', '--name', 'ops', '--user', 'backup', '--password', 'S3cret-Value']);
    expect(pw).toMatchObject({ name: 'ops', username: 'backup', resourceType: 'identityuser' });
    const piped = await run(home, ['identity', 'add', '--name', 'piped', '--user', 'reader', '--password-stdin'], { input: 'From-Stdin-1\n' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toMatch(/^Added identity piped \(id \d+, password for reader\)\.$/m);

    const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const keyFile = join(home, 'id_ed25519');
    writeFileSync(keyFile, privateKey, { mode: 0o600 });
    const key = await runJson(home, ['identity', 'add', '--name', 'deploy key', '--user', 'deploy', '--key', keyFile, '--passphrase', 'pp']);
    expect(key).toMatchObject({ name: 'deploy key', username: 'deploy', resourceType: 'identitykey', keytype: 'ssh_private_key' });

    const listed = await runJson(home, ['identity', 'list']);
    expect(listed.map((i: { name: string }) => i.name)).toEqual(expect.arrayContaining(['ops', 'piped', 'deploy key']));
    const human = await run(home, ['identity', 'list']);
    expect(human.stdout).toMatch(/^\s*ID\s+NAME\s+USER\s+KIND$/m);
    expect(human.stdout).toMatch(/deploy key\s+deploy\s+ssh key/);
    for (const text of [JSON.stringify(listed), human.stdout]) {
      expect(text).not.toContain('S3cret-Value');
      expect(text).not.toContain('From-Stdin-1');
      expect(text).not.toContain('PRIVATE KEY');
    }

    const both = await run(home, ['identity', 'add', '--name', 'x', '--user', 'u', '--password', 'p', '--key', keyFile]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give exactly one of --password P, --password-stdin or --key FILE');

    const removed = await run(home, ['identity', 'remove', key.id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`Removed identity deploy key (id ${key.id}).\n`);
    const removedJson = await runJson(home, ['identity', 'remove', pw.id]);
    expect(removedJson).toMatchObject({ id: pw.id, name: 'ops' });
    const gone = await run(home, ['identity', 'remove', key.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/does not exist\. \(HTTP 404 XSBObjectNotFoundException\)/);
  }, 60_000);

  it('appserver types lists what the server can inventory; --type is checked against it', async () => {
    const served = (await s.req('GET', '/api/census/collector', { sid })).json.collectors as { type: string }[];
    const types = await runJson(home, ['appserver', 'types']);
    expect(types.map((c: { type: string }) => c.type)).toEqual(served.map((c) => c.type));
    const text = await run(home, ['appserver', 'types']);
    expect(text.stdout).toMatch(/^TYPE\s+NAME\s+GROUP\s+PORT\s+LOGIN\s+TLS\s+HOLDS$/m);
    expect(text.stdout).toMatch(/^file\s+Linux file systems\s+file-systems\s+22\s+ssh key, password\s+no\s+filesystem$/m);

    const badType = await run(home, ['appserver', 'add', '--name', 'x', '--host', 'h', '--type', 'oracle', '--user', 'u', '--password', 'p']);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toContain(`--type must be one of ${served.map((c) => c.type).join(', ')} (what this server can inventory`);
    const keyForPg = await run(home, ['appserver', 'add', '--name', 'x', '--host', 'h', '--type', 'postgresql', '--user', 'u', '--key', '/nonexistent']);
    expect(keyForPg.code).toBe(2);
    // A Redis whose default user has no password is registered with --no-password; PostgreSQL's servers need one.
    expect(text.stdout).toMatch(/^redis\s+Redis\s+databases\s+6379\s+password or none\s+yes\s+keyspace$/m);
    const noPasswordPg = await run(home, ['appserver', 'add', '--name', 'x', '--host', 'h', '--type', 'postgresql', '--user', 'u', '--no-password']);
    expect(noPasswordPg.code).toBe(2);
    expect(noPasswordPg.stderr).toContain('a postgresql server needs a password: give --password P or --password-stdin');
    const twoSecrets = await run(home, ['appserver', 'add', '--name', 'x', '--host', 'h', '--type', 'redis', '--user', 'u', '--no-password', '--password', 'p']);
    expect(twoSecrets.code).toBe(2);
    expect(twoSecrets.stderr).toContain('give exactly one of --password P, --password-stdin, --key FILE or --no-password');
    const open = await runJson(home, ['appserver', 'add', '--name', 'open-cache', '--host', '127.0.0.1', '--type', 'redis', '--user', 'default', '--no-password', '--no-inventory']);
    expect(open.response).toMatchObject({ name: 'open-cache', applicationType: 'redis' });
    const tested = await run(home, ['appserver', 'test', open.response.id]);
    expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/^SUCCESS\s+login\s+/m);
    expect((await s.req('DELETE', `/api/appserver/${open.response.id}`, { sid })).status).toBe(204);
    const badShow = await run(home, ['inventory', 'show', '--type', 'oracle']);
    expect(badShow.code).toBe(2);
    expect(badShow.stderr).toContain(`--type must be one of ${served.map((c) => c.type).join(', ')}`);
    const help = await run(home, ['appserver', 'add', '--help']);
    expect(help.stdout).toContain('census appserver types');
    expect(help.stdout).not.toContain('postgresql|mysql|file');
  });

  it('appserver add, list, test and remove', async () => {
    await registerOnly([]);
    const added = await runJson(home, ['appserver', 'add', '--name', 'good', '--host', AUTH_HOSTS[0]!, '--port', String(pgPort), '--type', 'postgresql',
      '--user', AUTH_SUPERUSER, '--password', AUTH_SUPERPASS, '--tls', 'disable', '--no-inventory']);
    expect(added).toMatchObject({ statusCode: 201, response: { name: 'good', hostAddress: AUTH_HOSTS[0], portNumber: pgPort, applicationType: 'postgresql', tls: 'disable' } });
    const goodId = added.response.id as string;

    const wrong = await run(home, ['appserver', 'add', '--name', 'bad', '--host', AUTH_HOSTS[1]!, '--port', String(pgPort), '--type', 'postgresql',
      '--user', AUTH_SUPERUSER, '--password-stdin', '--no-inventory'], { input: 'not-the-password\n' });
    expect(wrong.code, wrong.stderr).toBe(0);
    expect(wrong.stdout).toContain(`Registered bad (id `);
    expect(wrong.stdout).toContain(`postgresql at ${AUTH_HOSTS[1]}:${pgPort}`);

    const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const keyFile = join(home, 'file-host-key');
    writeFileSync(keyFile, privateKey, { mode: 0o600 });
    const files = await runJson(home, ['appserver', 'add', '--name', 'files', '--host', '127.0.0.1', '--port', '2222', '--type', 'file', '--user', 'backup', '--key', keyFile, '--no-inventory']);
    expect(files.response).toMatchObject({ applicationType: 'file', useKeyAuthentication: true });

    const all = await runJson(home, ['appserver', 'list']);
    expect(all.map((a: { name: string }) => a.name)).toEqual(['good', 'bad', 'files']);
    const pg = await runJson(home, ['appserver', 'list', '--type', 'postgresql']);
    expect(pg.map((a: { name: string }) => a.name)).toEqual(['good', 'bad']);
    const table = await run(home, ['appserver', 'list', '--type', 'file']);
    expect(table.stdout).toMatch(/^\s*ID\s+NAME\s+TYPE\s+HOST\s+PORT\s+TLS\s+LOGIN\s+IDENTITY$/m);
    expect(table.stdout).toMatch(/files\s+file\s+127\.0\.0\.1\s+2222\s+disable\s+ssh key/);
    expect(table.stdout).not.toContain('good');

    const ok = await run(home, ['appserver', 'test', goodId]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^SUCCESS\s+login\s+/m);
    expect(ok.stdout).toContain('No check FAILED.');
    const badId = pg[1].id as string;
    const failed = await run(home, ['appserver', 'test', badId]);
    expect(failed.code).toBe(4);
    expect(failed.stdout).toMatch(/^FAILED\s+login\s+/m);
    const failedJson = await run(home, ['appserver', 'test', badId, '--json']);
    expect(failedJson.code).toBe(4);
    const checks = JSON.parse(failedJson.stdout).configGroups.flatMap((g: { tests: { name: string; status: string }[] }) => g.tests);
    expect(checks.find((c: { name: string }) => c.name === 'login').status).toBe('FAILED');

    const removed = await run(home, ['appserver', 'remove', files.response.id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`Removed application server files (id ${files.response.id}).\n`);
    const removedJson = await runJson(home, ['appserver', 'remove', badId]);
    expect(removedJson).toMatchObject({ id: badId, name: 'bad' });
    expect((await runJson(home, ['appserver', 'list'])).map((a: { id: string }) => a.id)).toEqual([goodId]);
    const missing = await run(home, ['appserver', 'test', badId]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`Application server "${badId}" does not exist. (HTTP 404 XSBObjectNotFoundException)`);
  }, 90_000);

  it('job run --wait exits 0 on COMPLETED, printing plain progress lines when stdout is not a terminal', async () => {
    await registerOnly([good()]);
    const r = await run(home, ['job', 'run', '1004', '--wait']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Application Server Inventory \(job 1004\) is running as session \d+\.$/);
    const progress = lines.filter((l) => PLAIN_LINE.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)).toMatch(/ COMPLETED 100% 1\/1 tasks$/);
    // Only changes are printed: no two progress lines alike.
    expect(new Set(progress.map((l) => l.slice(9))).size).toBe(progress.length);
    expect(lines.at(-1)).toMatch(/^Session \d+ \(Application Server Inventory\) ended COMPLETED in .+: 1 of 1 task\(s\) completed, 0 failed, 0 skipped\.$/);
    expect(r.stdout).not.toMatch(/[\r\x1b]/);

    const json = await runJson(home, ['job', 'run', '1004', '--wait']);
    expect(json).toMatchObject({ jobId: '1004', status: 'COMPLETED', numTasks: 1 });

    // Without --wait it only starts the job.
    const started = await runJson(home, ['job', 'run', '1004']);
    expect(started.lastrun.sessionId).toMatch(/^\d+$/);
    await settle();
  }, 60_000);

  it('on a terminal, redraws one progress line in place (bar, percent, tasks, elapsed)', async () => {
    await registerOnly([good(), { ...good(), name: 'good too', hostAddress: AUTH_HOSTS[2]! }]);
    const started = await s.req('POST', '/api/endeavour/job/1004?action=start', { sid });
    const sessionId = started.json.lastrun.sessionId as string;
    let written = '';
    const out = Object.assign(new PassThrough(), { isTTY: true, columns: 72 });
    out.on('data', (d: Buffer) => (written += d.toString()));
    const err = new PassThrough();
    const io: Io = { out, err, stdin: new PassThrough(), env: {}, now: Date.now };
    const api = adminApi('tty-sessions.json');
    const result = await waitForSession(api, io, sessionId, { follow: false, json: false, intervalMs: 50 });
    await api.close();
    expect(result).toMatchObject({ exitCode: 0, timedOut: false, session: { status: 'COMPLETED' } });
    // Hidden cursor while drawing, every redraw returns to the start of the line and clears it.
    expect(written.startsWith('\x1b[?25l\r\x1b[2K[')).toBe(true);
    const frames = written.split('\r\x1b[2K').slice(1).map((f) => f.replace(/\n[\s\S]*$/, ''));
    for (const f of frames) {
      expect(f).toMatch(/^\[[█░]+\]\s+\d{1,3}%  \d\/2 tasks  \d+:\d\d  (RUNNING|COMPLETED)$/);
      expect([...f].length).toBeLessThan(72);
    }
    expect(frames.at(-1)).toMatch(/^\[█+\]  100%  2\/2 tasks  \d+:\d\d  COMPLETED$/);
    // Then one newline, the cursor back, and the summary.
    expect(written).toMatch(/COMPLETED\n\x1b\[\?25hSession \d+ \(Application Server Inventory\) ended COMPLETED in .+: 2 of 2 task\(s\) completed, 0 failed, 0 skipped\.\n$/);
  }, 60_000);

  it('job run --wait exits 3 on PARTIAL (one good, one wrong password)', async () => {
    await registerOnly([good(), bad()]);
    const r = await run(home, ['job', 'run', '1004', '--wait']);
    expect(r.code, r.stderr + r.stdout).toBe(3);
    expect(r.stdout).toMatch(/ PARTIAL 100% 2\/2 tasks$/m);
    expect(r.stdout).toContain('ended PARTIAL');
    expect(r.stdout).toContain('1 of 2 task(s) completed, 1 failed');
  }, 60_000);

  it('job run --follow exits 4 on FAILED and prints the log entries, the SUMMARY line included', async () => {
    await registerOnly([bad()]);
    const r = await run(home, ['job', 'run', '1004', '--follow']);
    expect(r.code, r.stderr + r.stdout).toBe(4);
    const lines = r.stdout.trim().split('\n');
    const log = lines.filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  [A-Z]+ /.test(l));
    expect(log.some((l) => /INFO\s+Job Application Server Inventory \(id 1004\) started as session \d+ by admin \(manual\)\./.test(l))).toBe(true);
    expect(log.some((l) => /ERROR\s+Inventory of application server bad failed/.test(l))).toBe(true);
    expect(log.some((l) => /SUMMARY\s+Job Application Server Inventory ended FAILED: 0 of 1 task\(s\) completed, 1 failed, 0 cancelled/.test(l))).toBe(true);
    // Each entry exactly once.
    expect(new Set(log).size).toBe(log.length);
    expect(lines.at(-1)).toContain('ended FAILED');
    expect(lines.some((l) => / FAILED 100% 1\/1 tasks$/.test(l))).toBe(true);
  }, 60_000);

  it('session list, show and log; inventory show', async () => {
    await registerOnly([good()]);
    const run1 = await run(home, ['job', 'run', '1004', '--wait']);
    expect(run1.code).toBe(0);

    const latest = await runJson(home, ['session', 'list', '--job', '1004', '--limit', '2']);
    expect(latest).toHaveLength(2);
    expect(latest.every((x: { jobId: string }) => x.jobId === '1004')).toBe(true);
    expect(Number(latest[0].start)).toBeGreaterThanOrEqual(Number(latest[1].start));
    expect(latest[0].status).toBe('COMPLETED');
    const failed = await runJson(home, ['session', 'list', '--status', 'FAILED,PARTIAL']);
    expect(failed.map((x: { status: string }) => x.status).sort()).toEqual(['FAILED', 'PARTIAL']);
    const human = await run(home, ['session', 'list', '--limit', '3']);
    expect(human.stdout.split('\n')[0]).toMatch(/^ID\s+JOB\s+STATUS\s+START\s+DURATION\s+TASKS\s+TRIGGER$/);
    expect(human.stdout.trim().split('\n')).toHaveLength(4);

    const id = latest[0].id as string;
    const shown = await runJson(home, ['session', 'show', id]);
    expect(shown).toMatchObject({ id, status: 'COMPLETED', tasks: [{ name: 'good', status: 'COMPLETED', attempts: 1 }] });
    const show = await run(home, ['session', 'show', id]);
    expect(show.stdout).toContain(`Session ${id}  Application Server Inventory (job 1004)`);
    expect(show.stdout).toMatch(/tasks\s+1 \(1 completed, 0 failed, 0 skipped\)/);
    expect(show.stdout).toMatch(/^\s*TASK\s+NAME\s+STATUS\s+START\s+DURATION\s+ATTEMPTS\s+MESSAGE$/m);
    const unknown = await run(home, ['session', 'show', '123']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('(HTTP 404 XSBObjectNotFoundException)');

    const summaries = await runJson(home, ['session', 'log', id, '--type', 'summary']);
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.every((e: { type: string }) => e.type === 'SUMMARY')).toBe(true);
    const log = await run(home, ['session', 'log', id]);
    expect(log.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  INFO\s+Job Application Server Inventory \(id 1004\) started as session/m);
    expect(log.stdout).toMatch(/SUMMARY\s+Job Application Server Inventory ended COMPLETED/);
    // --follow on a session that has ended prints its log and stops.
    const followed = await run(home, ['session', 'log', id, '--follow', '--type', 'SUMMARY,ERROR']);
    expect(followed.code).toBe(0);
    expect(followed.stdout.trim().split('\n').every((l) => l.includes('SUMMARY'))).toBe(true);
    const jsonLines = await run(home, ['session', 'log', id, '--follow', '--json']);
    const entries = jsonLines.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(entries.map((e: { id: string }) => e.id).sort()).toEqual((await runJson(home, ['session', 'log', id])).map((e: { id: string }) => e.id).sort());
    const badType = await run(home, ['session', 'log', id, '--type', 'LOUD']);
    expect(badType.code).toBe(2);

    const inventory = await runJson(home, ['inventory', 'show', '--type', 'postgresql']);
    const instance = inventory.find((i: { name: string }) => i.name === `${AUTH_HOSTS[0]}:${pgPort}`);
    expect(instance).toMatchObject({ applicationType: 'postgresql', missing: false, version: expect.any(String) });
    expect(instance.databases.map((d: { name: string }) => d.name)).toContain('postgres');
    expect(instance.databases.find((d: { name: string }) => d.name === 'postgres').sizeBytes).toBeGreaterThan(0);
    const text = await run(home, ['inventory', 'show']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`postgresql  ${AUTH_HOSTS[0]}:${pgPort}  (version `);
    expect(text.stdout).toMatch(/^\s+DATABASE\s+SIZE\s+OWNER\s+ENCODING\s+LAST SEEN\s+FLAGS$/m);
    expect(text.stdout).toMatch(/^\s+postgres\s+\d+(\.\d)? (KiB|MiB|GiB)\s+census_admin\s+UTF8\s+/m);
    const none = await run(home, ['inventory', 'show', '--type', 'file']);
    expect(none.stdout).toContain('No inventory of type file yet');
  }, 60_000);

  it('job cancel from a second process ends job run --wait with exit 5', async () => {
    hang = await silentListener();
    await registerOnly([{ name: 'hang', hostAddress: '127.0.0.1', portNumber: hang.port, applicationType: 'postgresql', username: 'u', password: 'p' }]);
    const waiting = start(home, ['job', 'run', '1004', '--wait']);
    await waitFor(async () => (/ RUNNING 0% 0\/1 tasks$/m.test(waiting.stdout()) ? true : undefined), 'the waiting CLI to show the running session');
    // A second follower prints the log while the session runs, and stops when it ends.
    const sessionId = /running as session (\d+)\./.exec(waiting.stdout())![1]!;
    const follower = start(home, ['session', 'log', sessionId, '--follow']);
    await waitFor(async () => (/INFO\s+Job Application Server Inventory \(id 1004\) started as session/.test(follower.stdout()) ? true : undefined), 'the follower to print the first entries');
    expect(follower.stdout()).not.toContain('SUMMARY');

    const cancel = await run(home, ['job', 'cancel', '1004']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/^Cancel requested for session \d+ of Application Server Inventory \(job 1004\)/);
    const r = await waiting.done;
    expect(r.code, r.stderr + r.stdout).toBe(5);
    expect(r.stdout).toMatch(/ CANCELLED 100% 1\/1 tasks$/m);
    expect(r.stdout).toContain('ended CANCELLED');
    const followed = await follower.done;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(/WARN\s+Cancel requested by admin\./);
    expect(followed.stdout).toMatch(/SUMMARY\s+Job Application Server Inventory ended CANCELLED: 0 of 1 task\(s\) completed, 0 failed, 1 cancelled/);

    const again = await runJson(home, ['job', 'cancel', '1004']);
    expect(again).toMatchObject({ id: '1004', status: 'IDLE', lastSessionStatus: 'CANCELLED' });
    const idle = await run(home, ['job', 'cancel', '1004']);
    expect(idle.stdout).toContain('is not running; nothing to cancel');
    // job status --wait on an idle job answers at once with the last result's exit code.
    expect((await run(home, ['job', 'status', '1004', '--wait'])).code).toBe(5);
  }, 60_000);

  it('--timeout stops waiting with exit 6 while the session goes on', async () => {
    hang ??= await silentListener();
    await registerOnly([{ name: 'hang', hostAddress: '127.0.0.1', portNumber: hang.port, applicationType: 'postgresql', username: 'u', password: 'p' }]);
    const t0 = Date.now();
    const r = await run(home, ['job', 'run', '1004', '--wait', '--timeout', '2']);
    const took = Date.now() - t0;
    expect(r.code, r.stderr + r.stdout).toBe(6);
    expect(took).toBeGreaterThanOrEqual(2000);
    expect(took).toBeLessThan(15_000);
    expect(r.stderr).toMatch(/session \d+ is still RUNNING \(0\/1 tasks\) after 2 s; it goes on on the server/);
    const job = await runJson(home, ['job', 'status', '1004']);
    expect(job.status).toBe('RUNNING');
    // The same waiting code behind job status --wait.
    const status = await run(home, ['job', 'status', '1004', '--wait', '--timeout', '1']);
    expect(status.code).toBe(6);
    expect(status.stdout).toMatch(/status\s+RUNNING/);
    await settle();
    await registerOnly([]);
  }, 60_000);

  /** The session's log as the log endpoint has it, in its order. */
  async function sessionLog(sessionId: string) {
    const filter = encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: sessionId }]));
    return (await s.req('GET', `/api/endeavour/log/job?filter=${filter}&pageSize=1000`, { sid })).json.logs as { id: string; type: string; message: string }[];
  }

  /** Requests this server answered on a route, from /metrics (an event stream counts when it closes). */
  async function answered(route: string): Promise<number> {
    const text = (await s.req('GET', '/metrics', { sid })).text;
    let n = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('census_http_requests_total{') && line.includes(`route="${route}"`) && line.includes('method="GET"')) n += Number(line.split(' ').at(-1));
    }
    return n;
  }

  /** `--follow --json` output: the log entries, then (job run) the ended session. */
  function jsonLines(stdout: string) {
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    return { entries: lines.slice(0, -1), session: lines.at(-1) };
  }

  it('job run --follow prints from the event stream: the entries of the log endpoint, in its order, each once', async () => {
    hang ??= await silentListener();
    await registerOnly([good(), { name: 'hang', hostAddress: '127.0.0.1', portNumber: hang.port, applicationType: 'postgresql', username: 'u', password: 'p' }]);
    const logReads = await answered('/api/endeavour/log/job');
    const follower = start(home, ['job', 'run', '1004', '--follow', '--json']);
    // The good server's inventory ends while the hanging one keeps the session running.
    await waitFor(async () => (/Inventory of application server good complete/.test(follower.stdout()) ? true : undefined), 'the good server\'s inventory to be printed');
    const job = (await s.req('GET', '/api/endeavour/job/1004', { sid })).json;
    expect(job.status).toBe('RUNNING');
    expect((await s.req('POST', '/api/endeavour/job/1004?action=cancel', { sid })).status).toBeLessThan(300);
    const r = await follower.done;
    expect(r.code, r.stderr + r.stdout).toBe(5);
    expect(r.stderr).toBe('');
    const { entries, session } = jsonLines(r.stdout);
    expect(session).toMatchObject({ jobId: '1004', status: 'CANCELLED' });
    // Not polled: the log endpoint was read once, for what was written before the stream opened.
    expect((await answered('/api/endeavour/log/job')) - logReads).toBe(1);
    const log = await sessionLog(session.id);
    // Line for line what the log endpoint has (the same JSON), in its order, nothing twice.
    expect(entries).toEqual(log);
    expect(entries.at(-1)).toMatchObject({ type: 'SUMMARY' });
  }, 60_000);

  it('a dropped event stream is reopened after Last-Event-ID: every entry exactly once', async () => {
    hang ??= await silentListener();
    const hangToo = await silentListener();
    try {
      await droppedStream(hangToo);
    } finally {
      await settle();
      await hangToo.close();
    }
  }, 60_000);

  async function droppedStream(hangToo: SilentListener): Promise<void> {
    hang ??= await silentListener();
    await registerOnly([{ name: 'hang', hostAddress: '127.0.0.1', portNumber: hang.port, applicationType: 'postgresql', username: 'u', password: 'p' }]);
    // The event-stream requests the server gets, with the Last-Event-ID they resume after.
    const opened: (string | undefined)[] = [];
    const onRequest = (req: http.IncomingMessage) => {
      if (req.url?.startsWith('/api/endeavour/events')) opened.push(req.headers['last-event-id'] as string | undefined);
    };
    s.census.app.server.on('request', onRequest);
    const follower = start(home, ['job', 'run', '1004', '--follow', '--json']);
    const sessionId = await waitFor(async () => /"jobsessionId":(\d+)/.exec(follower.stdout())?.[1], 'the first log entry');
    const logFollower = start(home, ['session', 'log', sessionId, '--follow']);
    await waitFor(async () => (s.census.app.eventStreams.stats().connections === 2 ? true : undefined), 'both streams to be open');
    await waitFor(async () => (/started as session/.test(logFollower.stdout()) ? true : undefined), 'the log follower to print');
    // A server added to the running inventory: events both followers get through their streams.
    const added = await s.req('POST', '/api/appserver?action=bulk', { sid, body: [{ name: 'hang too', hostAddress: '127.0.0.1', portNumber: hangToo.port, applicationType: 'postgresql', username: 'u', password: 'p' }] });
    expect(added.status, added.text).toBe(201);
    for (const f of [follower, logFollower]) {
      await waitFor(async () => (/hang too was added to this running inventory/.test(f.stdout()) ? true : undefined), 'the followers to print the added server');
    }
    // Every connection to the server is cut (the streams among them); the cancel's entries are
    // written while the clients are reconnecting.
    s.census.app.server.closeAllConnections();
    await new Promise((r) => setTimeout(r, 100));
    expect((await s.req('POST', '/api/endeavour/job/1004?action=cancel', { sid })).status).toBeLessThan(300);
    const r = await follower.done;
    expect(r.code, r.stderr + r.stdout).toBe(5);
    expect(r.stderr).not.toContain('polling');
    const { entries, session } = jsonLines(r.stdout);
    expect(session).toMatchObject({ id: sessionId, status: 'CANCELLED' });
    const log = await sessionLog(sessionId);
    expect(entries).toEqual(log);
    expect(log.some((e) => e.type === 'WARN' && /Cancel requested by admin/.test(e.message))).toBe(true);
    const followed = await logFollower.done;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stderr).not.toContain('polling');
    const lines = followed.stdout.trim().split('\n');
    expect(lines).toHaveLength(log.length);
    expect(lines.map((l) => l.replace(/^\S+ \S+\s+\S+\s+/, ''))).toEqual(log.map((e) => e.message));
    // Each follower opened the stream twice: from now, and after the cut from where it was.
    s.census.app.server.off('request', onRequest);
    expect(opened).toHaveLength(4);
    expect(opened.slice(0, 2)).toEqual([undefined, undefined]);
    expect(opened.slice(2).every((id) => /^\d+$/.test(id ?? ''))).toBe(true);
    await registerOnly([]);
  }

  it('a stream dropped before its first event resumes from the id it opened with: no gap to read through the REST API', async () => {
    await registerOnly([good()]);
    const api = adminApi('early-drop-sessions.json');
    const sockets: net.Socket[] = [];
    const resumedAfter: (string | undefined)[] = [];
    const onRequest = (req: http.IncomingMessage) => {
      if (!req.url?.startsWith('/api/endeavour/events')) return;
      sockets.push(req.socket);
      resumedAfter.push(req.headers['last-event-id'] as string | undefined);
    };
    s.census.app.server.on('request', onRequest);
    const stream = await EventStream.open(api, { query: { types: 'session' } });
    let opening: string | undefined;
    try {
      opening = await waitFor(async () => stream.lastEventId, 'the opening id');
      // The stream's connection is cut before it carried an event; the session starts in the gap.
      expect(sockets).toHaveLength(1);
      sockets[0]!.destroy();
      const sessionId = String((await s.req('POST', '/api/endeavour/job/1004?action=start', { sid })).json.lastrun.sessionId);
      const got: string[] = [];
      for (;;) {
        const item = await stream.next(20_000);
        if (typeof item === 'string') throw new Error(`stream ${item}: ${stream.failure}`);
        got.push(item.type);
        if (item.type === 'session.ended' && String(item.data.sessionId) === sessionId) break;
      }
      expect(stream.reconnects).toBe(1);
      expect(Number(stream.lastEventId)).toBeGreaterThan(Number(opening));
      // Resumed, not started again from "now": the session's start (in the gap) came, and no resync.
      expect(got).not.toContain('resync');
      expect(got[0]).toBe('session.started');
    } finally {
      s.census.app.server.off('request', onRequest);
      stream.close();
      await api.close();
    }
    // Opened from "now", then again after the id it opened with.
    expect(resumedAfter).toEqual([undefined, opening]);
    await settle();
  }, 60_000);

  it('falls back to polling where the server has no event stream (404) or resets it', async () => {
    for (const mode of ['404', 'reset'] as const) {
      // The reset is read only while the session runs (one that ended before the CLI first looked
      // needs no stream): its one task waits until the CLI has read the session after asking for
      // the stream.
      const relay = await heldRelay(pgPort);
      if (mode === '404') relay.open();
      await registerOnly([{ ...good(), portNumber: relay.port }]);
      const proxy = await proxyWithoutEvents(s.url, mode, relay.open);
      try {
        const r = await run(home, ['job', 'run', '1004', '--follow', '--json', '--url', proxy.url, '--user', 'admin'], { env: { CENSUS_PASSWORD: ADMIN_PASSWORD } });
        expect(r.code, r.stderr + r.stdout).toBe(0);
        if (mode === '404') expect(r.stderr).toBe('');
        else expect(r.stderr).toContain('census: the event stream was reset (events were missed); polling instead.');
        const { entries, session } = jsonLines(r.stdout);
        expect(session).toMatchObject({ jobId: '1004', status: 'COMPLETED' });
        // The same entries (their links name the proxy: the server builds them from the Host header).
        const withoutLinks = (list: object[]) => list.map(({ links: _links, ...rest }: { links?: unknown }) => rest);
        expect(withoutLinks(entries)).toEqual(withoutLinks(await sessionLog(session.id)));
        expect(proxy.count('/api/endeavour/events')).toBe(1);
        expect(proxy.count('/api/endeavour/log/job')).toBeGreaterThanOrEqual(2);
      } finally {
        await proxy.close();
        await relay.close();
      }
    }
    await registerOnly([]);
  }, 60_000);

  it('logout ends the saved session', async () => {
    const before = JSON.parse(readFileSync(join(configDir, 'sessions.json'), 'utf8'))[s.url].sessionId as string;
    const out = await run(home, ['logout']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(`Logged out of ${s.url}.\n`);
    expect(JSON.parse(readFileSync(join(configDir, 'sessions.json'), 'utf8'))[s.url]).toBeUndefined();
    expect((await s.req('GET', '/api/endeavour/job', { sid: before })).status).toBe(401);
    const after = await run(home, ['job', 'list']);
    expect(after.code).toBe(2);
    expect(after.stderr).toContain('run `census login`');
  });
});

describe('--insecure certificate pinning', () => {
  const home = mkdtempSync(join(tmpdir(), 'census-cli-pin-'));
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const x of servers) await x.stop().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });

  it('pins the certificate on first use and refuses a different one on the same host:port', async () => {
    const first = await startTestServer();
    servers.push(first);
    const port = Number(new URL(first.url).port);
    const args = (url: string) => ['job', 'list', '--json', '--url', url, '--user', 'admin', '--password', ADMIN_PASSWORD, '--insecure'];
    const fp = (x: TestServer) => new X509Certificate(readFileSync(join(x.dataDir, 'tls', 'cert.pem'))).fingerprint256;
    const firstFp = fp(first);

    const pinned = await run(home, args(first.url));
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stderr).toContain(`pinned the certificate of 127.0.0.1:${port} (SHA-256 ${firstFp})`);
    const known = join(home, '.config', 'census', 'known_servers.json');
    expect(JSON.parse(readFileSync(known, 'utf8'))[`127.0.0.1:${port}`].sha256).toBe(firstFp);
    const again = await run(home, args(first.url));
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');

    await first.stop();
    servers.splice(0);
    const second = await startTestServer({ port });
    servers.push(second);
    expect(second.url).toBe(first.url);
    expect(fp(second)).not.toBe(firstFp);
    const refused = await run(home, args(second.url));
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`THE CERTIFICATE OF 127.0.0.1:${port} HAS CHANGED`);
    expect(refused.stderr).toContain(`pinned`);
    expect(refused.stderr).toContain(firstFp);
    expect(refused.stderr).toContain(`offered now: SHA-256 ${fp(second)}`);
    expect(refused.stderr).toContain(`remove "127.0.0.1:${port}" from ${known}`);
    // The pin stays, and the password never reached the new server: it saw no login at all.
    expect(JSON.parse(readFileSync(known, 'utf8'))[`127.0.0.1:${port}`].sha256).toBe(firstFp);
    expect((await second.census.store.users.byName('admin'))?.loginCount).toBe(0);
  }, 60_000);
});

describe('event stream parsing', () => {
  it('reads ids, types and multi-line data, skips comments, and joins lines split across chunks', () => {
    const got: [string | undefined, string, string][] = [];
    const p = new SseParser((id, type, data) => got.push([id, type, data]));
    p.push('retry: 2000\n: census event stream\n\nid: 4\nevent: log\nda');
    p.push('ta: {"a":1}\r');
    p.push('\n\r\n: heartbeat\n\nid: 5\ndata: x\ndata:y\n\n');
    p.push('data: no type\r\rid: 6\nevent: reset\ndata: {}\n');
    expect(got).toEqual([['4', 'log', '{"a":1}'], ['5', 'message', 'x\ny'], ['5', 'message', 'no type']]);
    p.push('\n');
    expect(got.at(-1)).toEqual(['6', 'reset', '{}']);
  });

  it('reports a block with an id and no data (where the stream starts) as an id to resume after, not an event', () => {
    const got: string[] = [];
    const ids: string[] = [];
    const p = new SseParser((id, type) => got.push(`${id} ${type}`), (id) => ids.push(id));
    p.push('retry: 2000\nid: 41\n: census event stream\n\n');
    expect(ids).toEqual(['41']);
    expect(got).toEqual([]);
    // The id stays the last one seen; a later block without an id and without data reports nothing.
    p.push(': heartbeat\n\nevent: log\ndata: {}\n\n');
    expect(got).toEqual(['41 log']);
    expect(ids).toEqual(['41']);
  });
});

describe('human formatting', () => {
  it('aligns tables and prints sizes, durations, times and progress', () => {
    expect(table(['id', 'name', { title: 'size', align: 'right' }], [['1', 'alpha', '7.4 MiB'], ['1000', 'b', null]])).toBe(
      ['ID    NAME      SIZE', '1     alpha  7.4 MiB', '1000  b            -'].join('\n'),
    );
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(1536)).toBe('1.5 KiB');
    expect(humanSize(734_003_200)).toBe('700 MiB');
    expect(humanSize(null)).toBe('-');
    expect(humanDuration(850)).toBe('850 ms');
    expect(humanDuration(3_250)).toBe('3.2 s');
    expect(humanDuration(42_000)).toBe('42 s');
    expect(humanDuration(125_000)).toBe('2 min 5 s');
    expect(humanDuration(7_380_000)).toBe('2 h 3 min');
    expect(humanTime(null)).toBe('-');
    expect(humanTime(new Date(2026, 4, 1, 12, 1, 2).getTime())).toBe('2026-05-01 12:01:02');
    const p = { status: 'RUNNING', percent: 40, done: 2, total: 5, elapsedMs: 72_000 };
    expect(progressLine(p, new Date(2026, 4, 1, 12, 1, 2).getTime())).toBe('12:01:02 RUNNING 40% 2/5 tasks');
    const bar = progressBar(p, 80);
    expect(bar).toMatch(/^\[█+░+\]   40%  2\/5 tasks  1:12  RUNNING$/);
    expect([...bar].length).toBeLessThan(80);
    expect(bar.match(/█/g)).toHaveLength(Math.round(0.4 * (bar.indexOf(']') - 1)));
  });
});
