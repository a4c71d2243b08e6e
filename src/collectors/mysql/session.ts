/**
 * Time and connection plumbing shared by collect() and test(): the budget of one run, the guard
 * that ends it at the deadline or on abort, and the Session that owns its single mysql2
 * connection and always tears it down.
 *
 * The connection is made with mysql2's callback-style createConnection and then used through its
 * promise wrapper (`.promise()`): mysql2/promise's own createConnection hands out nothing until
 * the handshake is done, so a connect cut short by the deadline or an abort could not be
 * destroyed, only left to its connectTimeout.
 */

import type { Socket } from 'node:net';

import mysql from 'mysql2';
import type { Connection as PromiseConnection } from 'mysql2/promise';

import { describeServer, scrubSecret } from '../network-errors.ts';
import { Budget } from '../deadline.ts';
import { CollectorError, driverSsl, withPort, type CollectOptions, type CollectTarget } from '../types.ts';

export { Budget };

export const DEFAULT_PORT = 3306;
export const WHAT = 'MySQL/MariaDB server';
/** How long a clean logout (COM_QUIT) may take before we just drop the socket. */
const END_GRACE_MS = 500;

export const withDefaultPort = (target: CollectTarget): CollectTarget => withPort(target, DEFAULT_PORT);

/**
 * Slow optional work (schema sizes) may only use time down to a reserve of 10% of the budget, at
 * least 200 ms and at most 2 s.
 */
export const mysqlBudget = (timeoutMs: number) => new Budget(timeoutMs, (t) => Math.min(2_000, Math.max(200, t * 0.1)));

/**
 * Ends a run at its deadline (TIMEOUT) or on abort (CANCELLED), whichever comes first, and calls
 * `onTrip` at once so the connection is dropped without waiting for the work to notice.
 */
export class Guard {
  private readonly tripped: Promise<never>;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort: () => void;

  constructor(
    private readonly options: CollectOptions,
    target: CollectTarget,
    verb: string,
    onTrip: () => void,
  ) {
    let trip!: (err: CollectorError) => void;
    this.tripped = new Promise<never>((_resolve, reject) => {
      trip = (err) => {
        this.dispose();
        onTrip();
        reject(err);
      };
    });
    // Nobody may be racing at the moment it trips; that is not an unhandled rejection.
    this.tripped.catch(() => {});
    const server = describeServer(target);
    this.onAbort = () => trip(new CollectorError('CANCELLED', `${verb} ${WHAT} ${server} was cancelled`));
    if (options.signal.aborted) {
      trip(new CollectorError('CANCELLED', `${verb} ${WHAT} ${server} was cancelled`));
      return;
    }
    options.signal.addEventListener('abort', this.onAbort, { once: true });
    this.timer = setTimeout(
      () => trip(new CollectorError('TIMEOUT', `${verb} ${WHAT} ${server} did not finish within ${options.timeoutMs} ms`)),
      Math.max(0, options.timeoutMs),
    );
  }

  /** Settle with `work`, unless the guard trips first (or has already tripped). */
  run<T>(work: Promise<T>): Promise<T> {
    // Promise.race subscribes to `work`, so its late rejection does not go unhandled.
    return Promise.race([work, this.tripped]);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.options.signal.removeEventListener('abort', this.onAbort);
  }
}

/** What the server said first, before any login: a MySQL greeting tells its version. */
export interface Greeting {
  serverVersion: string;
}

/**
 * A MySQL server speaks first: a packet (3-byte length, sequence 0) holding protocol version 10
 * and the server version, or an ERR packet (0xff) such as "Too many connections". Anything else
 * means another service listens on the port. mysql2 itself would often just wait for the rest of
 * a "packet" whose length is made of text ("SSH-2.0-..." reads as 4.7 MB) until the timeout;
 * looking at the first bytes turns that into a prompt PROTOCOL error.
 */
export type FirstBytes =
  | { kind: 'greeting'; greeting: Greeting }
  | { kind: 'error-packet' }
  | { kind: 'not-mysql' }
  | { kind: 'undecided' };

export function inspectFirstBytes(chunk: Buffer): FirstBytes {
  if (chunk.length < 5) return { kind: 'undecided' };
  const length = chunk.readUIntLE(0, 3);
  const sequence = chunk[3];
  const marker = chunk[4];
  if (sequence !== 0 || length === 0 || length > 0xffff) return { kind: 'not-mysql' };
  if (marker === 0xff) return { kind: 'error-packet' };
  if (marker !== 0x0a) return { kind: 'not-mysql' };
  const end = chunk.indexOf(0, 5);
  const raw = chunk.toString('latin1', 5, end === -1 ? Math.min(chunk.length, 5 + 64) : end);
  // MariaDB before 11 prefixes its version with "5.5.5-" for the sake of old replication clients.
  return { kind: 'greeting', greeting: { serverVersion: raw.replace(/^5\.5\.5-/, '') } };
}

/** The first bytes as printable text, for telling people what answered instead. */
function preview(chunk: Buffer): string {
  const text = chunk.toString('latin1', 0, Math.min(chunk.length, 40)).replace(/[^\x20-\x7e]/g, '.');
  return chunk.length > 40 ? `${text}...` : text;
}

function socketOf(connection: mysql.Connection): Socket {
  return (connection as unknown as { stream: Socket }).stream;
}

/**
 * Owns the single mysql2 connection of a run, so that whoever ends the run — success, error,
 * deadline or abort — can shut it down.
 */
export class Session {
  private connection: mysql.Connection | null = null;
  private closed = false;
  /** A query we gave up waiting for still occupies the connection: no clean logout possible. */
  private stuck = false;
  /** Set once the server has greeted us (even if the login then fails). */
  greeting: Greeting | null = null;

  constructor(
    private readonly target: CollectTarget,
    private readonly budget: Budget,
  ) {}

  /** Connect and log in. Rejects with the driver's error, or a CollectorError for a non-MySQL peer. */
  async open(): Promise<PromiseConnection> {
    if (this.closed || this.connection) throw new Error('the session has already been used');
    const connection = mysql.createConnection({
      host: this.target.host,
      port: this.target.port ?? DEFAULT_PORT,
      user: this.target.username,
      password: this.target.password ?? '',
      // mysql2 cannot be told "until time T", only "for N ms": hand it what is left of the budget,
      // so a hung handshake fails on its own even without the guard.
      connectTimeout: Math.max(1, Math.ceil(this.budget.remaining())),
      supportBigNumbers: true,
      // mysql2 sets up a large prepared-statement cache per connection; the collector prepares none.
      maxPreparedStatements: 1,
      // Several of the collector's own fixed statements in one round trip (reads.ts, Batch); it
      // never puts outside input into a statement.
      multipleStatements: true,
      ...(driverSsl(this.target.tls) ? { ssl: driverSsl(this.target.tls) as { rejectUnauthorized: boolean } } : {}),
    });
    this.connection = connection;
    // A fatal error with no command pending is emitted as 'error'; unhandled, it would crash the
    // process. Pending handshakes and queries are rejected with the same error anyway.
    connection.on('error', () => {});
    const socket = socketOf(connection);

    await new Promise<void>((resolve, reject) => {
      // Prepended, so we judge the first bytes before mysql2 tries to parse them.
      socket.prependOnceListener('data', (chunk: Buffer) => {
        const verdict = inspectFirstBytes(chunk);
        if (verdict.kind === 'greeting') this.greeting = verdict.greeting;
        if (verdict.kind !== 'not-mysql') return;
        const server = describeServer(this.target);
        const said = scrubSecret(preview(chunk), this.target.password);
        reject(new CollectorError('PROTOCOL', `${server} is not a ${WHAT}: it answered "${said}"`));
        this.dropNow();
      });
      connection.once('connect', () => resolve());
      connection.once('error', reject);
    });
    return connection.promise();
  }

  /** Give up on a query that is still running: the connection can only be dropped now. */
  markStuck(): void {
    this.stuck = true;
  }

  /** Drop the connection at once (deadline, abort, garbage from the peer). */
  dropNow(): void {
    this.closed = true;
    const connection = this.connection;
    if (!connection) return;
    this.connection = null;
    connection.destroy(); // marks it closing, so the close is not reported as an error
    socketOf(connection).destroy();
  }

  /** Log out cleanly (COM_QUIT, so the server does not log an aborted connection) when idle; else drop. */
  async close(graceful: boolean): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    if (!connection) return;
    const socket = socketOf(connection);
    const grace = Math.min(END_GRACE_MS, this.budget.remaining());
    if (graceful && !this.stuck && grace > 0 && !socket.destroyed) {
      let timer: NodeJS.Timeout | undefined;
      const closedBySocket = new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        timer = setTimeout(resolve, grace);
      });
      // The server closes its side on COM_QUIT; the socket then closes by itself.
      connection.end();
      await closedBySocket;
      clearTimeout(timer);
    }
    this.dropNow();
  }
}
