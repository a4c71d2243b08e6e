/**
 * One connection to a directory server, opened step by step (TCP, then TLS: ldaps:// or StartTLS)
 * so that each step has its own deadline and its own error. The sockets are made here and handed
 * to ldapts, so that close() can always destroy them, even after a step timed out mid-way.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Client, InvalidCredentialsError, ResultCodeError } from 'ldapts';
import { DEFAULT_TIMEOUT_MS, type DirectoryConfig, type Endpoint } from './config.ts';
import { cause, DirectoryError, type DirectoryErrorCode, errorCode, isTlsFailure, isUnreachable } from './errors.ts';

/** How long close() waits for a polite unbind before it destroys the sockets. */
const UNBIND_GRACE_MS = 1_000;

export class Connection {
  readonly client: Client;
  readonly timeoutMs: number;
  /** Every socket made for this connection (TCP, TLS over it), shared with open() until it returns. */
  private readonly sockets: Set<net.Socket>;
  /** Masked in every message. */
  readonly secrets: readonly string[];

  private constructor(
    readonly config: DirectoryConfig,
    readonly endpoint: Endpoint,
    socket: net.Socket,
    sockets: Set<net.Socket>,
    secrets: readonly string[],
  ) {
    this.sockets = sockets;
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.secrets = [config.bindPassword, ...secrets];
    const track = (s: net.Socket) => this.track(s);
    this.client = new Client({
      url: `${endpoint.secure ? 'ldaps' : 'ldap'}://${net.isIPv6(endpoint.host) ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`,
      timeout: this.timeoutMs,
      connectTimeout: this.timeoutMs,
      // The socket is already connected (and for ldaps://, already TLS): ldapts takes it as it is.
      createConnection: (() => socket) as unknown as typeof net.connect,
      createSecureConnection: (endpoint.secure
        ? () => socket
        : (options: tls.ConnectionOptions) => track(tls.connect({ ...options, ...tlsOptions(config, endpoint) }))) as unknown as typeof tls.connect,
    });
  }

  /** TCP, then for ldaps:// the TLS handshake, then for StartTLS the upgrade: each under the deadline. */
  static async open(config: DirectoryConfig, endpoint: Endpoint, secrets: readonly string[] = []): Promise<Connection> {
    const sockets = new Set<net.Socket>();
    const track = <S extends net.Socket>(s: S): S => {
      sockets.add(s);
      s.on('error', () => {}); // ldapts listens too; this only keeps a late error from crashing the process
      return s;
    };
    const pending = { config, endpoint, timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS, secrets: [config.bindPassword, ...secrets] };
    try {
      let socket: net.Socket = await step(pending, 'connect', 'unreachable', () => connectTcp(track(net.connect({ host: endpoint.host, port: endpoint.port }))));
      if (endpoint.secure) {
        socket = await step(pending, 'the TLS handshake', 'tls', () => handshake(track(tls.connect({ ...tlsOptions(config, endpoint), socket }))));
      }
      const conn = new Connection(config, endpoint, socket, sockets, secrets);
      if (config.startTls) await conn.step('StartTLS', 'tls', () => conn.client.startTLS({}));
      return conn;
    } catch (err) {
      for (const s of sockets) s.destroy();
      throw err;
    }
  }

  /** Runs one step under the deadline; its failure becomes a DirectoryError (`resultCode` for an LDAP refusal). */
  step<T>(what: string, resultCode: DirectoryErrorCode, run: () => Promise<T>): Promise<T> {
    return step(this, what, resultCode, run);
  }

  /** Binds as the service account. */
  bindService(): Promise<void> {
    return this.step('the bind as the service account', 'bind-failed', () => this.client.bind(this.config.bindDn, this.config.bindPassword));
  }

  /** Unbinds politely if it can, then destroys every socket. Never throws. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, UNBIND_GRACE_MS)));
    await Promise.race([this.client.unbind().catch(() => {}), grace]);
    clearTimeout(timer);
    for (const s of this.sockets) s.destroy();
  }

  private track<S extends net.Socket>(s: S): S {
    this.sockets.add(s);
    s.on('error', () => {});
    return s;
  }
}

function tlsOptions(config: DirectoryConfig, endpoint: Endpoint): tls.ConnectionOptions {
  return {
    // The name the certificate must carry; SNI only for a name (RFC 6066 forbids an IP address).
    host: endpoint.host,
    ...(net.isIP(endpoint.host) ? {} : { servername: endpoint.host }),
    rejectUnauthorized: config.tlsVerify,
    minVersion: 'TLSv1.2',
    ...(config.caCert ? { ca: config.caCert } : {}),
  };
}

function connectTcp(socket: net.Socket): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function handshake(socket: tls.TLSSocket): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

interface StepContext {
  endpoint: Endpoint;
  config: DirectoryConfig;
  timeoutMs: number;
}

async function step<T>(ctx: StepContext & { secrets?: readonly string[] }, what: string, resultCode: DirectoryErrorCode, run: () => Promise<T>): Promise<T> {
  const where = ctx.endpoint.where;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DirectoryError('timeout', `The directory server ${where} did not finish ${what} within ${ctx.timeoutMs} ms.`, what)),
      ctx.timeoutMs,
    );
  });
  const work = run();
  work.catch(() => {}); // after a timeout, its late failure is nobody's
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    throw classify(err, ctx, what, resultCode, ctx.secrets ?? [ctx.config.bindPassword]);
  } finally {
    clearTimeout(timer);
  }
}

function classify(err: unknown, ctx: StepContext, what: string, resultCode: DirectoryErrorCode, secrets: readonly string[]): DirectoryError {
  if (err instanceof DirectoryError) return err;
  const where = ctx.endpoint.where;
  const why = cause(err, secrets);
  if (err instanceof InvalidCredentialsError && resultCode === 'bad-credentials') {
    return new DirectoryError('bad-credentials', `The directory server ${where} refused the user's password.`, what);
  }
  if (err instanceof ResultCodeError) return new DirectoryError(resultCode, `The directory server ${where} refused ${what}: ${ldapResult(err, secrets)}`, what);
  if (isTlsFailure(err)) {
    const hint = !ctx.config.tlsVerify
      ? ''
      : ctx.config.caCert
        ? " If the server's certificate is not signed by the given CA (caCert), give the CA that signed it."
        : " If the server's certificate is signed by a private CA, give that CA (caCert).";
    return new DirectoryError('tls', `TLS with the directory server ${where} failed during ${what}: ${why}.${hint}`, what);
  }
  if (isUnreachable(err)) return new DirectoryError('unreachable', `The directory server ${where} cannot be reached: ${why}`, what);
  if (/timed? ?out/i.test(why)) return new DirectoryError('timeout', `The directory server ${where} did not finish ${what} in time: ${why}`, what);
  if (isConnectionLost(err)) {
    // During TLS set-up, a dropped connection is a TLS failure (say, ldaps:// to a plain port).
    const code = resultCode === 'tls' ? 'tls' : 'unreachable';
    const hint = code === 'tls' && ctx.endpoint.secure ? ' Is this port ldaps://, or ldap:// with StartTLS?' : '';
    return new DirectoryError(code, `The connection to the directory server ${where} was lost during ${what}: ${why}.${hint}`, what);
  }
  return new DirectoryError(resultCode, `The directory server ${where} could not complete ${what}: ${why}`, what);
}

function isConnectionLost(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  if (['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_DESTROYED'].includes(code)) return true;
  return /connection closed|socket (error|connection|hang up)|disconnected/i.test(err instanceof Error ? err.message : '');
}

/** "invalid credentials (LDAP result 49)", with the server's own words when it gave some. */
function ldapResult(err: ResultCodeError, secrets: readonly string[]): string {
  const name = err.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  const said = cause(err, secrets);
  return `${name} (LDAP result ${err.code})${/^Code: 0x[0-9a-f]+$/i.test(said) ? '' : `: ${said}`}`;
}
