/**
 * Runs the file collector against real OpenSSH servers started for this file (test/support/sshd.ts:
 * Debian's sshd on a free loopback port with its own config, host key and users). The host it
 * inventories is this machine, so the results are compared with local uname, os-release and df.
 * Network failures use throwaway local listeners.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { silentListener, type SilentListener } from '../../../test/support/silent-listener.ts';
import { startSshd, type Sshd } from '../../../test/support/sshd.ts';
import type { CollectTarget } from '../types.ts';
import { fileCollector } from './index.ts';
import { isPseudoFileSystem, parseDf, parseOsRelease } from './inventory.ts';
import { expectDeclaredChecks, failure, options } from '../../../test/support/collectors.ts';

let keySshd: Sshd;
let pwSshd: Sshd;
let nologinSshd: Sshd;
let failingSshd: Sshd;
const listeners: SilentListener[] = [];
const servers: net.Server[] = [];

beforeAll(async () => {
  [keySshd, pwSshd, nologinSshd, failingSshd] = await Promise.all([
    startSshd(),
    startSshd({ password: true }),
    startSshd({ forceCommand: 'echo "This account is currently not available."; exit 1' }),
    startSshd({ forceCommand: 'echo "segmentation fault in frobnicator" >&2; exit 3' }),
  ]);
});

afterAll(async () => {
  await Promise.all([keySshd, pwSshd, nologinSshd, failingSshd].map((s) => s?.stop()));
  await Promise.all(listeners.map((l) => l.close()));
  for (const s of servers) s.close();
});

const keyTarget = (over: Partial<CollectTarget> = {}): CollectTarget => ({
  name: 'fs1',
  host: keySshd.host,
  port: keySshd.port,
  username: keySshd.user,
  password: null,
  privateKey: keySshd.privateKey,
  ...over,
});

const pwTarget = (over: Partial<CollectTarget> = {}): CollectTarget => ({
  name: 'fs2',
  host: pwSshd.host,
  port: pwSshd.port,
  username: pwSshd.user,
  password: pwSshd.password!,
  ...over,
});



/** No line of the key's body (nor its armour) may show up in a message. */
function expectNoKeyMaterial(text: string, privateKey: string) {
  expect(text).not.toMatch(/BEGIN|PRIVATE KEY/);
  for (const line of privateKey.split('\n')) {
    if (line.length >= 16 && !line.startsWith('-----')) expect(text).not.toContain(line.slice(0, 16));
  }
}

/** A local port nobody listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A TCP server that greets every connection with `greeting`, then closes it or keeps it open. */
async function fakePeer(greeting: string | Buffer, then: 'close' | 'hold'): Promise<number> {
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.resume();
    if (greeting.length) sock.write(greeting);
    if (then === 'close') sock.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('fileCollector.collect against a local sshd', () => {
  it('logs in with an ed25519 key and reads this host and its file systems', async () => {
    const result = await fileCollector.collect(keyTarget(), options());

    expect(result.warnings).toEqual([]);
    expect(result.instances).toHaveLength(1);
    const instance = result.instances[0]!;
    expect(instance.name).toBe(`${keySshd.host}:${keySshd.port}`);
    expect(instance.host).toBe(keySshd.host);
    expect(instance.port).toBe(keySshd.port);
    expect(instance.version).toBe(os.release());

    const osRelease = parseOsRelease(readFileSync('/etc/os-release', 'utf8').split('\n'));
    expect(instance.properties).toMatchObject({
      hostname: os.hostname(),
      kernel: os.release(),
      arch: execFileSync('uname', ['-m']).toString().trim(),
      os: osRelease.PRETTY_NAME,
      hostKeyFingerprint: keySshd.hostKeyFingerprint,
      hostKeyType: 'ssh-ed25519',
    });
    expect(keySshd.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);

    // The root file system, with the type and numbers df reports here.
    const root = instance.databases.find((d) => d.name === '/');
    expect(root, JSON.stringify(instance.databases)).toBeDefined();
    const localRoot = parseDf(execFileSync('df', ['-P', '-T', '-B1', '/'], { env: { ...process.env, LC_ALL: 'C' } }).toString().split('\n')).rows[0]!;
    expect(root!.owner).toBeNull();
    expect(root!.encoding).toBeNull();
    expect(root!.properties.type).toBe(localRoot.type);
    expect(root!.properties.device).toBe(localRoot.device);
    expect(root!.sizeBytes).toBe(localRoot.totalBytes);
    expect(root!.sizeBytes).toBeGreaterThan(0);
    const used = root!.properties.usedBytes as number;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(root!.sizeBytes!);
    expect(root!.properties.availableBytes).toBeTypeOf('number');
    expect(root!.properties.usePercent).toBeTypeOf('number');
    expect(root!.properties.readOnly).toBe(false);

    // No pseudo file systems.
    for (const db of instance.databases) {
      expect(['proc', 'sysfs', 'tmpfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'mqueue']).not.toContain(db.properties.type);
      expect(db.name.startsWith('/proc') || db.name.startsWith('/sys')).toBe(false);
    }
  });

  it('lists the same mount points as df does on this machine (pseudo file systems left out)', async () => {
    const result = await fileCollector.collect(keyTarget(), options());
    const local = parseDf(execFileSync('df', ['-P', '-T', '-B1'], { env: { ...process.env, LC_ALL: 'C' } }).toString().split('\n'));
    const expected = local.rows.filter((r) => !isPseudoFileSystem(r) && r.totalBytes !== 0).map((r) => r.mountPoint);
    const collected = result.instances[0]!.databases.map((d) => d.name);
    expect(collected.sort()).toEqual([...new Set(expected)].sort());
  });

  it('logs in with an RSA key in PEM (PKCS#1) form', async () => {
    expect(keySshd.rsaPem.privateKey).toContain('BEGIN RSA PRIVATE KEY');
    const result = await fileCollector.collect(keyTarget({ privateKey: keySshd.rsaPem.privateKey }), options());
    expect(result.instances[0]!.databases.some((d) => d.name === '/')).toBe(true);
  });

  it('logs in with an RSA key in PKCS#8 form (converted before use)', async () => {
    expect(keySshd.rsaPkcs8.privateKey).toContain('BEGIN PRIVATE KEY');
    const result = await fileCollector.collect(keyTarget({ privateKey: keySshd.rsaPkcs8.privateKey }), options());
    expect(result.instances[0]!.databases.some((d) => d.name === '/')).toBe(true);
  });

  it('logs in with an encrypted key and its passphrase', async () => {
    const { privateKey, passphrase } = keySshd.encrypted;
    const result = await fileCollector.collect(keyTarget({ privateKey, passphrase }), options());
    expect(result.instances[0]!.properties.hostKeyFingerprint).toBe(keySshd.hostKeyFingerprint);
  });

  it('an encrypted key without or with a wrong passphrase is AUTH, naming neither key nor passphrase', async () => {
    const { privateKey } = keySshd.encrypted;
    const none = await failure(fileCollector.collect(keyTarget({ privateKey }), options()));
    expect(none.code).toBe('AUTH');
    expect(none.message).toContain('no passphrase');
    expectNoKeyMaterial(none.message, privateKey);

    const wrong = await failure(fileCollector.collect(keyTarget({ privateKey, passphrase: 'Wr0ng-Passphrase' }), options()));
    expect(wrong.code).toBe('AUTH');
    expect(wrong.retryable).toBe(false);
    expect(wrong.message).toContain('wrong passphrase');
    expect(wrong.message).toContain(`fs1 (${keySshd.host}:${keySshd.port})`);
    expect(wrong.message).not.toContain('Wr0ng-Passphrase');
    expectNoKeyMaterial(wrong.message, privateKey);
  });

  it('an unauthorized key is AUTH; the message names user and server and carries no key material', async () => {
    const { privateKey } = keySshd.unauthorized;
    const err = await failure(fileCollector.collect(keyTarget({ privateKey }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`authentication failed for user "${keySshd.user}"`);
    expect(err.message).toContain(`fs1 (${keySshd.host}:${keySshd.port})`);
    expectNoKeyMaterial(err.message, privateKey);
  });

  it('text that is no key at all is AUTH without echoing it', async () => {
    const junk = 'not-a-key-0123456789abcdefghijklmnop';
    const err = await failure(fileCollector.collect(keyTarget({ privateKey: junk }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain('could not be read');
    expect(err.message).not.toContain('0123456789abcdef');
  });

  it('a password for a key-only server is AUTH and says which methods the server accepts', async () => {
    const err = await failure(fileCollector.collect(keyTarget({ privateKey: null, password: 'Some-Pass-123' }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain('it accepts: publickey');
    expect(err.message).not.toContain('Some-Pass-123');
  });

  it('no password and no key is AUTH', async () => {
    const err = await failure(fileCollector.collect(keyTarget({ privateKey: null, password: null }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain('no password or private key');
  });

  it('logs in with a password', async () => {
    const result = await fileCollector.collect(pwTarget(), options());
    const instance = result.instances[0]!;
    expect(instance.name).toBe(`${pwSshd.host}:${pwSshd.port}`);
    expect(instance.properties.hostname).toBe(os.hostname());
    expect(instance.properties.hostKeyFingerprint).toBe(pwSshd.hostKeyFingerprint);
    expect(instance.databases.some((d) => d.name === '/')).toBe(true);
  });

  it('a wrong password is AUTH and the message does not contain it', async () => {
    const wrong = 'Wrong-Password-4711';
    const err = await failure(fileCollector.collect(pwTarget({ password: wrong }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain(`authentication failed for user "${pwSshd.user}" on fs2 (${pwSshd.host}:${pwSshd.port})`);
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(pwSshd.password!);
  });

  it('an account that may not run commands is PERMISSION', async () => {
    const err = await failure(
      fileCollector.collect(keyTarget({ port: nologinSshd.port, privateKey: nologinSshd.privateKey }), options()),
    );
    expect(err.code).toBe('PERMISSION');
    expect(err.message).toContain('This account is currently not available');
  });

  it('a command that fails without output is UNKNOWN and quotes its stderr', async () => {
    const err = await failure(
      fileCollector.collect(keyTarget({ port: failingSshd.port, privateKey: failingSshd.privateKey }), options()),
    );
    expect(err.code).toBe('UNKNOWN');
    expect(err.message).toContain('exit 3');
    expect(err.message).toContain('segmentation fault in frobnicator');
  });
});

describe('fileCollector.collect network failures', () => {
  it('a closed port is REFUSED (retryable)', async () => {
    const port = await closedPort();
    const err = await failure(fileCollector.collect(keyTarget({ port }), options()));
    expect(err.code).toBe('REFUSED');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`fs1 (127.0.0.1:${port})`);
  });

  it('an unknown host name is DNS', async () => {
    const err = await failure(fileCollector.collect(keyTarget({ host: 'no-such-host.invalid' }), options({ timeoutMs: 5000 })));
    expect(err.code).toBe('DNS');
  });

  it('a listener that never answers is TIMEOUT at the deadline', async () => {
    const listener = await silentListener();
    listeners.push(listener);
    const started = Date.now();
    const err = await failure(fileCollector.collect(keyTarget({ port: listener.port }), options({ timeoutMs: 1500 })));
    const elapsed = Date.now() - started;
    expect(err.code).toBe('TIMEOUT');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('never sent an SSH identification');
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(5000);
  });

  it('an HTTP server that keeps the connection open is PROTOCOL, without waiting for the deadline', async () => {
    const port = await fakePeer('HTTP/1.1 400 Bad Request\r\n\r\n', 'hold');
    const started = Date.now();
    const err = await failure(fileCollector.collect(keyTarget({ port }), options({ timeoutMs: 8000 })));
    expect(err.code).toBe('PROTOCOL');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('HTTP/1.1 400 Bad Request');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('an HTTP server that closes the connection is PROTOCOL', async () => {
    const port = await fakePeer('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n', 'close');
    const err = await failure(fileCollector.collect(keyTarget({ port }), options()));
    expect(err.code).toBe('PROTOCOL');
  });

  it('a peer sending binary data (a MySQL-like greeting) is PROTOCOL', async () => {
    const port = await fakePeer(Buffer.from([0x4a, 0x00, 0x00, 0x00, 0x0a, 0x38, 0x2e, 0x30, 0x00, 0x01]), 'hold');
    const err = await failure(fileCollector.collect(keyTarget({ port }), options()));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toContain('binary data');
  });

  it('a peer with a text line that is not SSH, then silence, is PROTOCOL at the deadline (not TIMEOUT)', async () => {
    const port = await fakePeer('220 mail.example.com ESMTP ready\r\n', 'hold');
    const err = await failure(fileCollector.collect(keyTarget({ port }), options({ timeoutMs: 1500 })));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toContain('220 mail.example.com ESMTP ready');
  });

  it('a peer that closes at once without a word is REFUSED (like sshd over MaxStartups)', async () => {
    const port = await fakePeer('', 'close');
    const err = await failure(fileCollector.collect(keyTarget({ port }), options()));
    expect(err.code).toBe('REFUSED');
  });

  it('an abort while waiting is CANCELLED', async () => {
    const listener = await silentListener();
    listeners.push(listener);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const err = await failure(fileCollector.collect(keyTarget({ port: listener.port }), options({ signal: controller.signal })));
    expect(err.code).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('an abort before the start is CANCELLED', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(fileCollector.collect(keyTarget(), options({ signal: controller.signal })));
    expect(err.code).toBe('CANCELLED');
  });
});

describe('fileCollector.test', () => {
  it('answers only the checks its info declares, in order: key, password, refused login, closed port', async () => {
    const targets = [keyTarget(), pwTarget(), pwTarget({ password: 'Not-The-Password-99' }), keyTarget({ port: await closedPort() })];
    for (const t of targets) {
      const checks = await fileCollector.test(t, options());
      expectDeclaredChecks(fileCollector.info, checks);
      expect(checks.map((c) => c.name)).toEqual(fileCollector.info.checks.map((c) => c.name));
    }
    expect(fileCollector.applicationType).toBe(fileCollector.info.type);
  });

  it('passes every check with a good key', async () => {
    const checks = await fileCollector.test(keyTarget(), options());
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['connect', 'SUCCESS'],
      ['login', 'SUCCESS'],
      ['command', 'SUCCESS'],
    ]);
    expect(checks[0]!.message).toContain(keySshd.hostKeyFingerprint);
  });

  it('passes every check with a password', async () => {
    const checks = await fileCollector.test(pwTarget(), options());
    expect(checks.map((c) => c.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  it('fails login with a bad key and skips the command', async () => {
    const checks = await fileCollector.test(keyTarget({ privateKey: keySshd.unauthorized.privateKey }), options());
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['connect', 'SUCCESS'],
      ['login', 'FAILED'],
      ['command', 'SKIPPED'],
    ]);
    expect(checks[1]!.message).toContain('authentication failed');
    expectNoKeyMaterial(JSON.stringify(checks), keySshd.unauthorized.privateKey);
  });

  it('fails login with a wrong password without showing it', async () => {
    const checks = await fileCollector.test(pwTarget({ password: 'Not-The-Password-99' }), options());
    expect(checks.map((c) => c.status)).toEqual(['SUCCESS', 'FAILED', 'SKIPPED']);
    expect(JSON.stringify(checks)).not.toContain('Not-The-Password-99');
  });

  it('fails the command check when the account may not run commands', async () => {
    const checks = await fileCollector.test(keyTarget({ port: nologinSshd.port, privateKey: nologinSshd.privateKey }), options());
    expect(checks.map((c) => c.status)).toEqual(['SUCCESS', 'SUCCESS', 'FAILED']);
  });

  it('fails connect on a closed port and skips the rest, without throwing', async () => {
    const checks = await fileCollector.test(keyTarget({ port: await closedPort() }), options());
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['connect', 'FAILED'],
      ['login', 'SKIPPED'],
      ['command', 'SKIPPED'],
    ]);
    expect(checks[0]!.message).toContain('connection refused');
  });

  it('fails connect at the deadline on a silent listener', async () => {
    const listener = await silentListener();
    listeners.push(listener);
    const started = Date.now();
    const checks = await fileCollector.test(keyTarget({ port: listener.port }), options({ timeoutMs: 1000 }));
    expect(checks.map((c) => c.status)).toEqual(['FAILED', 'SKIPPED', 'SKIPPED']);
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
