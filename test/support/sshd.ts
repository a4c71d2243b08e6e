/**
 * A private OpenSSH server for the file-collector tests: Debian's /usr/sbin/sshd (installed by
 * scripts/ensure-sshd.sh when missing) run in the foreground on a free loopback port with its own
 * config, host key and authorized_keys, so the machine's /etc/ssh and ssh service stay untouched.
 *
 * What it leaves on the machine on purpose (created once, reused by later runs):
 *  - the openssh-server package (only when /usr/sbin/sshd was missing), and /run/sshd, the
 *    privilege-separation directory sshd insists on;
 *  - the user "census-ssh-test" (key login only: its password field is "*", no password matches);
 *  - the user "census-ssh-pw" (password login), whose password is derived from /etc/machine-id,
 *    so it is the same for every run on this machine and unknown elsewhere.
 * Everything else (keys, config, pid file) lives in a temp directory removed by stop().
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SSHD = '/usr/sbin/sshd';
const ENSURE_SCRIPT = fileURLToPath(new URL('../../scripts/ensure-sshd.sh', import.meta.url));
/** The key-only login. */
export const KEY_USER = 'census-ssh-test';
/** The password login (used by the `password: true` variant). */
export const PASSWORD_USER = 'census-ssh-pw';
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15_000;

export interface SshKeyPair {
  path: string;
  privateKey: string;
}

export interface Sshd {
  host: string;
  port: number;
  /** The login user: KEY_USER, or PASSWORD_USER for the password variant. */
  user: string;
  /** The ed25519 key (OpenSSH format) that is authorized for `user`. */
  keyPath: string;
  privateKey: string;
  /** Also authorized: an RSA 2048 key in PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"). */
  rsaPem: SshKeyPair;
  /** Also authorized: an RSA 2048 key in PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  rsaPkcs8: SshKeyPair;
  /** Also authorized: an ed25519 key encrypted with `passphrase`. */
  encrypted: SshKeyPair & { passphrase: string };
  /** A valid key that is NOT authorized. */
  unauthorized: SshKeyPair;
  /** The password of `user` (password variant only). */
  password?: string;
  /** The server's host key fingerprint as `ssh-keygen -l` prints it ("SHA256:..."). */
  hostKeyFingerprint: string;
  /** Kills sshd and removes the temp directory. */
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Allow password login (for PASSWORD_USER) besides keys. */
  password?: boolean;
  /** sshd's ForceCommand: whatever the client asks to run, this runs instead. */
  forceCommand?: string;
}

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** useradd/chpasswd fail (rather than wait) when another process holds the passwd lock. */
async function runWithRetry(cmd: string, args: string[], input?: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run(cmd, args, input);
      return;
    } catch (err) {
      if (attempt >= 5 || !/lock/i.test(String(err))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

async function userExists(user: string): Promise<boolean> {
  return run('id', ['-u', user]).then(
    () => true,
    () => false,
  );
}

/** Creating a user twice at once fails; within this process, each user is set up once. */
const usersReady = new Map<string, Promise<void>>();

function ensureUser(user: string): Promise<void> {
  let ready = usersReady.get(user);
  if (!ready) {
    ready = setUpUser(user);
    usersReady.set(user, ready);
  }
  return ready;
}

async function setUpUser(user: string): Promise<void> {
  if (!(await userExists(user))) {
    try {
      await runWithRetry('useradd', ['--create-home', '--shell', '/bin/bash', user]);
    } catch (err) {
      // Another test process may have created it in the meantime.
      if (!(await userExists(user))) throw err;
    }
  }
  // useradd leaves "!" in the password field, and without PAM sshd refuses every login, even by
  // key, to an account whose password starts with "!" ("account is locked"). "*" matches no
  // password either, but does not count as locked.
  if (user === KEY_USER && (await shadowPassword(user))?.startsWith('!')) {
    await runWithRetry('usermod', ['-p', '*', user]);
  }
}

async function shadowPassword(user: string): Promise<string | undefined> {
  const line = (await readFile('/etc/shadow', 'utf8')).split('\n').find((l) => l.startsWith(`${user}:`));
  return line?.split(':')[1];
}

/** Stable per machine, not written anywhere: the hash of /etc/machine-id (or the host name). */
function machinePassword(): string {
  let seed: string;
  try {
    seed = readFileSync('/etc/machine-id', 'utf8').trim();
  } catch {
    seed = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
  }
  return `Cs-${createHash('sha256').update(`census-ssh-test-password:${seed}`).digest('base64url').slice(0, 20)}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** One attempt: does the port accept a connection and greet with "SSH-2.0"? */
function sshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    let seen = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    sock.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      if (seen.includes('\n') || seen.length >= 8) done(seen.startsWith('SSH-2.0'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

async function keygen(path: string, args: string[]): Promise<SshKeyPair> {
  await run('ssh-keygen', ['-q', '-N', '', '-C', 'census-test', ...args, '-f', path]);
  return { path, privateKey: await readFile(path, 'utf8') };
}

function sshdConfig(dir: string, port: number, users: string[], options: SshdOptions): string {
  const password = options.password === true;
  return [
    `Port ${port}`,
    `ListenAddress ${HOST}`,
    `HostKey ${join(dir, 'host_ed25519')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys', '%u')}`,
    `AllowUsers ${users.join(' ')}`,
    'PubkeyAuthentication yes',
    `PasswordAuthentication ${password ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
    'PermitEmptyPasswords no',
    'PermitRootLogin no',
    'UsePAM no',
    'StrictModes yes',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'LogLevel VERBOSE',
    ...(options.forceCommand ? [`ForceCommand ${options.forceCommand}`] : []),
    '',
  ].join('\n');
}

/** Serialize ensure-sshd.sh across concurrent callers in this process. */
let ensured: Promise<void> | undefined;

async function ensureSshd(): Promise<void> {
  if (existsSync(SSHD)) return;
  ensured ??= run('sh', [ENSURE_SCRIPT]).then(() => undefined);
  await ensured;
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is still missing after ${ENSURE_SCRIPT}`);
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  await ensureSshd();
  // sshd refuses to start without its privilege-separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const user = options.password ? PASSWORD_USER : KEY_USER;
  await ensureUser(user);
  let password: string | undefined;
  if (options.password) {
    password = machinePassword();
    await runWithRetry('chpasswd', [], `${user}:${password}\n`);
  }

  // Not under /tmp: with StrictModes, sshd checks every directory above authorized_keys, and a
  // world-writable one (/tmp) fails that check. /run is root's and 0755. The directories must be
  // readable by the login user, as sshd reads authorized_keys with the user's uid.
  const dir = await mkdtemp('/run/census-sshd-');
  try {
    await chmod(dir, 0o755);
    const hostKey = await keygen(join(dir, 'host_ed25519'), ['-t', 'ed25519']);
    const ed25519 = await keygen(join(dir, 'id_ed25519'), ['-t', 'ed25519']);
    const rsaPem = await keygen(join(dir, 'id_rsa_pem'), ['-t', 'rsa', '-b', '2048', '-m', 'PEM']);
    const rsaPkcs8 = await keygen(join(dir, 'id_rsa_pkcs8'), ['-t', 'rsa', '-b', '2048', '-m', 'PKCS8']);
    const passphrase = 'open sesame 42';
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-a', '4', '-N', passphrase, '-C', 'census-test', '-f', join(dir, 'id_encrypted')]);
    const encrypted = { path: join(dir, 'id_encrypted'), privateKey: await readFile(join(dir, 'id_encrypted'), 'utf8'), passphrase };
    const unauthorized = await keygen(join(dir, 'id_unauthorized'), ['-t', 'ed25519']);

    const publicKeys = await Promise.all(
      [ed25519, rsaPem, rsaPkcs8, encrypted].map((k) => readFile(`${k.path}.pub`, 'utf8')),
    );
    await mkdir(join(dir, 'authorized_keys'), { mode: 0o755 });
    await writeFile(join(dir, 'authorized_keys', user), publicKeys.map((k) => k.trim()).join('\n') + '\n', { mode: 0o644 });
    const hostKeyFingerprint = (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey.path}.pub`])).split(' ')[1] ?? '';

    const configPath = join(dir, 'sshd_config');
    let child: ChildProcess | undefined;
    let port = 0;
    let log = '';
    // The free port may be taken between probing and binding: try a few ports.
    for (let attempt = 1; attempt <= 3 && !child; attempt++) {
      port = await freePort();
      await writeFile(configPath, sshdConfig(dir, port, [user], options), { mode: 0o644 });
      log = '';
      const proc = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      proc.stderr?.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-8000);
      });
      const up = await waitUntilListening(proc, port);
      if (up) child = proc;
      else if (attempt === 3) throw new Error(`sshd did not start on ${HOST}:${port}:\n${log}`);
    }
    const sshd = child!;
    const killOnExit = () => sshd.kill('SIGKILL');
    process.once('exit', killOnExit);

    return {
      host: HOST,
      port,
      user,
      keyPath: ed25519.path,
      privateKey: ed25519.privateKey,
      rsaPem,
      rsaPkcs8,
      encrypted,
      unauthorized,
      ...(password !== undefined ? { password } : {}),
      hostKeyFingerprint,
      async stop() {
        process.removeListener('exit', killOnExit);
        if (sshd.exitCode === null && sshd.signalCode === null) {
          const exited = new Promise<void>((resolve) => sshd.once('exit', () => resolve()));
          sshd.kill('SIGTERM');
          const timer = setTimeout(() => sshd.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Polls until sshd answers with its banner (true), or it exits or the start deadline passes
 * (false; the process is killed).
 */
async function waitUntilListening(proc: ChildProcess, port: number): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited = false;
  proc.once('exit', () => (exited = true));
  while (!exited && Date.now() < deadline) {
    if (await sshBanner(port)) return true;
    if (exited) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!exited) {
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await gone;
  }
  return false;
}
