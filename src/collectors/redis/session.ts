/**
 * One run's connection and time: a RESP connection opened for the target, its login, and the
 * race of the run's work against the deadline and the abort signal. Whoever ends the run drops
 * the connection, so a silent peer cannot keep it open.
 */

import { raceDeadline } from '../deadline.ts';
import { describeServer } from '../network-errors.ts';
import { CollectorError, withPort, type CollectOptions, type CollectTarget } from '../types.ts';
import { redisUser, WHAT } from './errors.ts';
import { RedisReplyError, RespConnection, type RespValue } from './resp.ts';

export const DEFAULT_PORT = 6379;
/** How long a clean QUIT may take before we just drop the socket. */
const END_GRACE_MS = 500;
/** The name the collector's connection shows in CLIENT LIST, so an operator sees who is there. */
const CLIENT_NAME = 'census-collector';

export const withDefaultPort = (target: CollectTarget): CollectTarget => withPort(target, DEFAULT_PORT);

export class Session {
  readonly conn: RespConnection;
  private readonly deadline: number;

  private constructor(
    private readonly target: CollectTarget,
    private readonly options: CollectOptions,
    /** "collection from", "connection test of": for timeout and cancel messages. */
    private readonly activity: string,
  ) {
    this.deadline = Date.now() + options.timeoutMs;
    this.conn = new RespConnection({ host: target.host, port: target.port ?? DEFAULT_PORT, tls: target.tls ?? 'disable' });
  }

  /** A session, unless the run is already cancelled: then nothing is opened at all. */
  static open(target: CollectTarget, options: CollectOptions, activity: string): Session {
    if (options.signal.aborted) throw cancelledError(target, activity);
    return new Session(target, options, activity);
  }

  /** Settle with `work`, or fail with TIMEOUT at the deadline or CANCELLED on abort; either drops the connection. */
  async within<T>(work: Promise<T>): Promise<T> {
    try {
      return await raceDeadline(work, this.deadline, this.options.signal, {
        timeout: () =>
          new CollectorError(
            'TIMEOUT',
            `${this.activity} ${WHAT} ${describeServer(this.target)} did not finish within ${this.options.timeoutMs} ms${this.stalledAt()}`,
          ),
        cancelled: () => cancelledError(this.target, this.activity),
      });
    } catch (err) {
      if (err instanceof CollectorError && (err.code === 'TIMEOUT' || err.code === 'CANCELLED')) this.conn.destroy();
      throw err;
    }
  }

  /** Where a run that timed out was stuck, when that says more than "no answer". */
  private stalledAt(): string {
    if (this.conn.connected) return '';
    return this.target.tls === 'require' || this.target.tls === 'verify'
      ? ': the TLS handshake never completed (does that port serve TLS?)'
      : ': the connection was never established';
  }

  /** QUIT politely after success (within what is left of the deadline); otherwise just drop. */
  async close(graceful: boolean): Promise<void> {
    const grace = graceful && !this.options.signal.aborted ? Math.min(END_GRACE_MS, this.deadline - Date.now()) : 0;
    await this.conn.quit(grace);
  }
}

const cancelledError = (target: CollectTarget, activity: string) =>
  new CollectorError('CANCELLED', `${activity} ${WHAT} ${describeServer(target)} was cancelled`);

/**
 * Log in: AUTH with the password alone for the default user (the requirepass style, which Redis
 * before 6 only knows), AUTH user password for an ACL user. Without a password, the default user
 * is expected to need none: undefined, nothing to send.
 */
export function authCommand(target: CollectTarget): string[] | undefined {
  const user = redisUser(target);
  const password = target.password ?? '';
  if (user === 'default' && password === '') return undefined;
  return user === 'default' ? ['AUTH', password] : ['AUTH', user, password];
}

/** AUTH's reply, judged: remarks for the run's warnings, or the refusal thrown. */
export async function loggedIn(reply: Promise<RespValue> | undefined, target: CollectTarget): Promise<string[]> {
  try {
    await reply;
  } catch (err) {
    // A password for a server that has none: the login works without it, which is worth telling.
    if (err instanceof RedisReplyError && /without any password configured/i.test(err.message)) {
      return [`${describeServer(target)} has no password set for the default user; the given password was not needed`];
    }
    throw err;
  }
  return [];
}

/** Log in on its own (the connection test's step). */
export async function login(conn: RespConnection, target: CollectTarget): Promise<string[]> {
  const auth = authCommand(target);
  return loggedIn(auth && conn.command(...auth), target);
}

/** Names the connection; a login not allowed to do so still collects. */
export const NAME_CLIENT = ['CLIENT', 'SETNAME', CLIENT_NAME];

export async function named(reply: Promise<RespValue>): Promise<void> {
  await reply.catch((err: unknown) => {
    if (!(err instanceof RedisReplyError)) throw err;
  });
}
