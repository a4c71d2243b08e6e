/**
 * One SSH connection of a collection or a connection test: connect, handshake, log in, run one
 * command, and be shut down by whoever ends the collection (success, error, deadline or abort).
 * Each step is a promise (`handshake`, `ready`, `exec`) that rejects with a CollectorError, so a
 * connection test can report the steps one by one. Shared by the collectors that work over SSH
 * (file systems, KVM hosts).
 */

import { createHash, createPrivateKey } from 'node:crypto';
import net from 'node:net';

import ssh2 from 'ssh2';
import type {
  AnyAuthMethod,
  AuthenticationType,
  AuthHandlerMiddleware,
  ClientChannel,
  KeyboardInteractiveCallback,
  ParsedKey,
  Prompt,
} from 'ssh2';

import { raceDeadline } from './deadline.ts';
import { describeServer, errorMessage } from './network-errors.ts';
import { CollectorError, type CollectOptions, type CollectTarget } from './types.ts';
import { classifySshError, protocolMismatch, sanitizeRemoteText, type FailureContext } from './ssh-errors.ts';

const { Client, utils } = ssh2;

export const DEFAULT_PORT = 22;
/** How long a clean SSH disconnect may take before we just drop the socket. */
const END_GRACE_MS = 500;
const KEEPALIVE_INTERVAL_MS = 5000;
const READY_TIMEOUT_SLACK_MS = 250;
const KEEPALIVE_COUNT_MAX = 3;
/** More output than any mount table: a runaway command, not an inventory. */
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;
/** How much of the peer's first bytes we look at to tell an SSH server from something else. */
const SNIFF_BYTES = 8192;
/** keyboard-interactive rounds we answer with the password before giving up. */
const MAX_KBD_ROUNDS = 3;

type Stage = FailureContext['stage'];

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
}

type KeyResult = { key: ParsedKey } | { error: CollectorError };

/**
 * Parse the private key up front, so a bad key or passphrase is a clear AUTH error of its own
 * (never with the key's text) and not ssh2's "Cannot parse privateKey". ssh2 reads OpenSSH, PEM
 * (PKCS#1 / SEC1) and PuTTY keys; PKCS#8 PEM ("BEGIN PRIVATE KEY") RSA and EC keys are converted
 * to PKCS#1 / SEC1 here first.
 */
function prepareKey(target: CollectTarget): KeyResult {
  const text = target.privateKey ?? '';
  const passphrase = target.passphrase || undefined;
  const user = `user "${target.username}" on ${describeServer(target)}`;

  let parsed = utils.parseKey(text, passphrase);
  if (parsed instanceof Error && /-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    try {
      const key = createPrivateKey({ key: text, format: 'pem', ...(passphrase ? { passphrase } : {}) });
      const pem =
        key.asymmetricKeyType === 'rsa'
          ? key.export({ type: 'pkcs1', format: 'pem' })
          : key.asymmetricKeyType === 'ec'
            ? key.export({ type: 'sec1', format: 'pem' })
            : null;
      if (pem === null) {
        return {
          error: new CollectorError(
            'AUTH',
            `the private key for ${user} is a PKCS#8 ${key.asymmetricKeyType ?? ''} key, which cannot be used here; convert it to OpenSSH format (ssh-keygen -p -f <file>)`,
          ),
        };
      }
      parsed = utils.parseKey(String(pem));
    } catch (err) {
      const message = err instanceof Error ? err.message : '';
      if (/passphrase|decrypt/i.test(message)) return { error: badPassphrase(user, passphrase) };
      return { error: unreadableKey(user) };
    }
  }
  if (parsed instanceof Error) {
    if (/passphrase/i.test(parsed.message)) return { error: badPassphrase(user, passphrase) };
    return { error: unreadableKey(user) };
  }
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (!key) return { error: unreadableKey(user) };
  if (!key.isPrivateKey()) {
    return { error: new CollectorError('AUTH', `the key given for ${user} is a public key; a private key is needed`) };
  }
  return { key };
}

const badPassphrase = (user: string, passphrase: string | undefined) =>
  new CollectorError(
    'AUTH',
    passphrase
      ? `the private key for ${user} could not be decrypted: wrong passphrase`
      : `the private key for ${user} is encrypted and no passphrase was given`,
  );

const unreadableKey = (user: string) =>
  new CollectorError(
    'AUTH',
    `the private key for ${user} could not be read: it is not an OpenSSH, PEM or PuTTY private key, or it is damaged`,
  );

/** "SHA256:<base64 without padding>", as `ssh-keygen -l` prints it. */
function fingerprint(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`;
}

/** The key type ("ssh-ed25519") that starts an SSH public-key blob. */
export function hostKeyType(hostKey: Buffer): string | null {
  if (hostKey.length < 4) return null;
  const len = hostKey.readUInt32BE(0);
  if (len === 0 || len > 64 || hostKey.length < 4 + len) return null;
  return hostKey.toString('latin1', 4, 4 + len);
}

interface Deferred {
  promise: Promise<void>;
  settled: boolean;
  resolve(): void;
  reject(err: CollectorError): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: CollectorError) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting for a step when it fails (collect() only awaits `ready`).
  promise.catch(() => {});
  const d: Deferred = {
    promise,
    settled: false,
    resolve: () => {
      if (d.settled) return;
      d.settled = true;
      resolve();
    },
    reject: (err) => {
      if (d.settled) return;
      d.settled = true;
      reject(err);
    },
  };
  return d;
}

export class SshSession {
  /** The server's host key (the SSH public-key blob), once the handshake got that far. */
  hostKey: Buffer | null = null;
  private stage: Stage = 'connect';
  private readonly client = new Client();
  private readonly sock: net.Socket;
  private readonly handshakeStep = deferred();
  private readonly readyStep = deferred();
  private failure: CollectorError | null = null;
  private pendingExec: ((err: CollectorError) => void) | null = null;
  private closed = false;
  private bytesReceived = 0;
  private sniffed = Buffer.alloc(0);
  private sniffing = true;
  private nonSshGreeting: string | null = null;
  private serverMethods: string[] | null = null;
  private readonly triedMethods: string[] = [];
  /** Why login cannot work before even trying (bad key, no credentials). */
  private readonly loginError: CollectorError | null;

  constructor(
    private readonly target: CollectTarget,
    deadline: number,
  ) {
    const server = describeServer(target);
    const plan: AnyAuthMethod[] = [];
    let loginError: CollectorError | null = null;
    if (target.privateKey) {
      const prepared = prepareKey(target);
      if ('error' in prepared) loginError = prepared.error;
      else plan.push({ type: 'publickey', username: target.username, key: prepared.key });
    }
    if (target.password && !loginError) {
      const password = target.password;
      plan.push({ type: 'password', username: target.username, password });
      // Servers that check passwords through PAM often offer only keyboard-interactive.
      let rounds = 0;
      plan.push({
        type: 'keyboard-interactive',
        username: target.username,
        prompt: (_name: string, _instructions: string, _lang: string, prompts: Prompt[], finish: KeyboardInteractiveCallback) => {
          rounds++;
          finish(prompts.length === 0 || rounds > MAX_KBD_ROUNDS ? [] : prompts.map(() => password));
        },
      });
    }
    if (!plan.length && !loginError) {
      loginError = new CollectorError('AUTH', `no password or private key was given for user "${target.username}" on ${server}`);
    }
    this.loginError = loginError;

    this.client.on('handshake', () => {
      // Also emitted after a later re-key, which must not move the stage back.
      if (this.stage === 'connect' || this.stage === 'handshake') this.stage = 'login';
      this.handshakeStep.resolve();
    });
    this.client.on('ready', () => {
      this.stage = 'command';
      this.readyStep.resolve();
    });
    this.client.on('error', (err: Error) => this.fail(err));
    this.client.on('close', () => this.fail(new Error('connection closed')));

    this.sock = new net.Socket();
    this.sock.on('error', () => {}); // ssh2 hears it too and reports it as an 'error'
    this.sock.on('connect', () => {
      if (this.stage === 'connect') this.stage = 'handshake';
    });
    this.sock.on('data', this.sniff);

    let next = 0;
    const authHandler = (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, callback: (auth: AnyAuthMethod | false) => void) => {
      if (methodsLeft) this.serverMethods = [...methodsLeft];
      while (next < plan.length) {
        const method = plan[next++]!;
        if (methodsLeft && !methodsLeft.includes(method.type)) continue;
        this.triedMethods.push(method.type);
        callback(method);
        return;
      }
      callback(false);
    };

    try {
      this.sock.connect({ host: target.host, port: target.port ?? DEFAULT_PORT });
      this.client.connect({
        sock: this.sock,
        username: target.username,
        // A hung handshake then fails on its own, even without the caller's race; a little after
        // the deadline, so that the caller's race (with its fuller message) normally comes first.
        readyTimeout: Math.max(1, Math.ceil(deadline - Date.now())) + READY_TIMEOUT_SLACK_MS,
        keepaliveInterval: KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        // Every host key is accepted for now; its fingerprint goes into the inventory so a later
        // run can notice a change.
        hostVerifier: (key: Buffer): boolean => {
          this.hostKey = Buffer.from(key);
          return true;
        },
        authHandler: authHandler as unknown as AuthHandlerMiddleware,
      });
    } catch (err) {
      this.fail(err);
    }
  }

  /** Resolves when TCP is up and the SSH key exchange is done. */
  get handshake(): Promise<void> {
    return this.handshakeStep.promise;
  }

  /** Resolves when logged in. */
  get ready(): Promise<void> {
    return this.readyStep.promise;
  }

  get hostKeyFingerprint(): string | null {
    return this.hostKey ? fingerprint(this.hostKey) : null;
  }

  context(): FailureContext {
    return {
      stage: this.stage,
      nonSshGreeting: this.nonSshGreeting,
      bytesReceived: this.bytesReceived,
      serverMethods: this.serverMethods,
      triedMethods: [...this.triedMethods],
    };
  }

  /** The error for a deadline that passed now: a peer that is not SSH is the better explanation. */
  timeoutError(timeoutMs: number): CollectorError {
    const server = describeServer(this.target);
    if (this.nonSshGreeting !== null && this.stage !== 'command') return protocolMismatch(this.target, this.nonSshGreeting);
    const waiting: Record<Stage, string> = {
      connect: 'the TCP connection was not established',
      handshake:
        this.bytesReceived === 0
          ? 'the server accepted the TCP connection but never sent an SSH identification'
          : 'the SSH handshake did not complete',
      login: `logging in as "${this.target.username}" did not complete`,
      command: 'the inventory command did not finish',
    };
    return new CollectorError('TIMEOUT', `collection from ${server} did not finish within ${timeoutMs} ms: ${waiting[this.stage]}`);
  }

  /** Runs `command`, writes `input` to its stdin and collects what it prints. */
  exec(command: string, input: string): Promise<ExecResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new CollectorError('CANCELLED', 'the collection has already ended'));
    this.stage = 'command';
    const server = describeServer(this.target);
    return new Promise<ExecResult>((resolve, reject) => {
      this.pendingExec = reject;
      this.client.exec(command, (err: Error | undefined, stream: ClientChannel) => {
        if (err) {
          this.pendingExec = null;
          reject(
            new CollectorError(
              'PERMISSION',
              `${server} does not let user "${this.target.username}" run commands: ${errorMessage(err, this.target)}`,
            ),
          );
          return;
        }
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let size = 0;
        let exitCode: number | null = null;
        let signal: string | null = null;
        const take = (into: Buffer[]) => (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_OUTPUT_BYTES) {
            this.pendingExec = null;
            stream.destroy();
            reject(new CollectorError('UNKNOWN', `the inventory command on ${server} printed more than ${MAX_OUTPUT_BYTES} bytes`));
            return;
          }
          into.push(chunk);
        };
        stream.on('data', take(stdout));
        stream.stderr.on('data', take(stderr));
        stream.on('exit', (code: number | null, sig?: string) => {
          exitCode = typeof code === 'number' ? code : null;
          signal = sig ?? null;
        });
        stream.on('error', () => {});
        stream.on('close', () => {
          if (this.pendingExec !== reject) return; // already failed
          this.pendingExec = null;
          resolve({
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
            exitCode,
            signal,
          });
        });
        stream.end(input);
      });
    });
  }

  /** Disconnect cleanly after success; after a failure (possibly a hung socket) just drop it. */
  async close(graceful: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (graceful && !this.sock.destroyed) {
      const gone = new Promise<void>((resolve) => this.sock.once('close', () => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, END_GRACE_MS)));
      try {
        this.client.end();
      } catch {
        // already closing
      }
      await Promise.race([gone, grace]);
      clearTimeout(timer);
    }
    this.sock.destroy();
    this.fail(new CollectorError('CANCELLED', `the session with ${describeServer(this.target)} was closed`));
  }

  /** The first failure settles every step that is still pending; later ones are noise. */
  private fail(err: unknown): void {
    if (!this.failure) {
      let error = classifySshError(err, this.target, this.context());
      // A login that could not even start (bad key, nothing to log in with) says why.
      if (this.loginError && this.stage === 'login' && error.code === 'AUTH') error = this.loginError;
      this.failure = error;
    }
    const failure = this.failure;
    this.handshakeStep.reject(failure);
    this.readyStep.reject(failure);
    const pending = this.pendingExec;
    this.pendingExec = null;
    pending?.(failure);
  }

  /**
   * Watches the peer's first lines: an SSH server starts with "SSH-2.0-..." (possibly after a few
   * text lines). Binary data or an HTTP status line means something else listens there, and
   * waiting out the deadline would only hide that.
   */
  private readonly sniff = (chunk: Buffer): void => {
    this.bytesReceived += chunk.length;
    if (!this.sniffing) return;
    this.sniffed = Buffer.concat([this.sniffed, chunk]);
    const text = this.sniffed.toString('latin1');
    const lines = text.split('\n');
    const complete = lines.slice(0, -1).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    if (complete.some((l) => l.startsWith('SSH-')) || text.startsWith('SSH-')) {
      this.sniffing = false;
      this.nonSshGreeting = null;
      return;
    }
    const first = complete[0] ?? (this.sniffed.length >= SNIFF_BYTES ? text : null);
    // eslint-disable-next-line no-control-regex
    const binary = /[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/.test(text);
    if (first !== null || binary) {
      this.nonSshGreeting ??= sanitizeRemoteText((first ?? text).slice(0, 200), this.target, 80) || '(binary data)';
      if (binary) this.nonSshGreeting = '(binary data)';
      if (binary || /^HTTP\/\d/.test(first ?? '')) {
        this.sniffing = false;
        this.fail(protocolMismatch(this.target, this.nonSshGreeting));
        return;
      }
    }
    if (this.sniffed.length >= SNIFF_BYTES) this.sniffing = false;
  };
}

/** The failure context of a session that was never created (a cancel before the start). */
export function emptyContext(): FailureContext {
  return { stage: 'connect', nonSshGreeting: null, bytesReceived: 0, serverMethods: null, triedMethods: [] };
}

/**
 * Settle with `work`, or with TIMEOUT at `deadline` (ms since the epoch), or with CANCELLED on
 * abort, whichever is first. The steps of a connection test share one deadline.
 */
export function withinDeadline<T>(work: Promise<T>, options: CollectOptions, target: CollectTarget, session: SshSession, deadline: number): Promise<T> {
  return raceDeadline(work, deadline, options.signal, {
    timeout: () => session.timeoutError(options.timeoutMs),
    cancelled: () => cancelled(target),
  });
}

export const cancelled = (target: CollectTarget): CollectorError =>
  new CollectorError('CANCELLED', `collection from SSH server ${describeServer(target)} was cancelled`);

/**
 * One collection over SSH: a session with the whole collection's deadline, `work` raced against
 * that deadline and the abort signal, SSH failures turned into CollectorErrors that name the
 * server (a CollectorError `work` throws passes through as it is), and the session closed
 * however it ends.
 */
export async function collectOverSsh<T>(where: CollectTarget, options: CollectOptions, work: (session: SshSession, deadline: number) => Promise<T>): Promise<T> {
  if (options.signal.aborted) throw cancelled(where);
  const deadline = Date.now() + options.timeoutMs;
  const session = new SshSession(where, deadline);
  let succeeded = false;
  try {
    const result = await withinDeadline(work(session, deadline), options, where, session, deadline);
    succeeded = true;
    return result;
  } catch (err) {
    throw classifySshError(err, where, session.context());
  } finally {
    await session.close(succeeded);
  }
}
