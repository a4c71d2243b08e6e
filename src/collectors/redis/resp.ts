/**
 * A minimal RESP2 client: one socket (plain or TLS), commands written at once and answered in
 * order (so several in flight are pipelined), replies parsed as they arrive. The collector needs
 * half a dozen read-only commands; a full client would bring reconnects and an offline queue
 * that a run with a hard deadline must not have.
 *
 * It never times out by itself: the caller races it against the run's deadline and calls
 * destroy(), which fails whatever is pending.
 */

import net from 'node:net';
import tls from 'node:tls';

import type { TlsMode } from '../types.ts';

/** What a command returns: simple and bulk strings, integers, nil, arrays of those. */
export type RespValue = string | number | null | RespValue[];

/** An error reply ("-WRONGPASS ..."): the server said no; the connection stays usable. */
export class RedisReplyError extends Error {
  /** The first word, by convention the error's kind: ERR, WRONGPASS, NOAUTH, NOPERM, LOADING, ... */
  readonly prefix: string;
  constructor(text: string) {
    super(text);
    this.name = 'RedisReplyError';
    this.prefix = /^\S+/.exec(text)?.[0] ?? '';
  }
}

/** The peer's bytes are not RESP, or it hung up: the connection is gone. */
export class RespProtocolError extends Error {
  constructor(
    message: string,
    /** The first bytes the peer sent, printable, when it sent something that is not RESP. */
    readonly received?: string,
  ) {
    super(message);
    this.name = 'RespProtocolError';
  }
}

/** A reply larger than this is not something the commands we send would get: the peer is not Redis. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;
const CRLF = '\r\n';

/** Result of parsing at `offset`: the value and where the next reply starts, or undefined when more bytes are needed. */
type Parsed = { value: RespValue | RedisReplyError; next: number } | undefined;

/** Parse one RESP2 reply from `buf` at `offset`. Throws RespProtocolError on bytes that are not RESP. */
export function parseReply(buf: Buffer, offset = 0): Parsed {
  if (offset >= buf.length) return undefined;
  const end = buf.indexOf(CRLF, offset);
  if (end === -1) {
    if (buf.length - offset > MAX_REPLY_BYTES) throw new RespProtocolError('reply line too long');
    // A RESP line starts with one of five bytes; anything else is known to be wrong at once.
    if (!'+-:$*'.includes(String.fromCharCode(buf[offset]!))) throw notResp(buf, offset);
    return undefined;
  }
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString('utf8', offset + 1, end);
  const next = end + 2;
  switch (type) {
    case '+':
      return { value: line, next };
    case '-':
      return { value: new RedisReplyError(line), next };
    case ':':
      return { value: integer(line, buf, offset), next };
    case '$': {
      const length = integer(line, buf, offset);
      if (length === -1) return { value: null, next };
      if (length < 0 || length > MAX_REPLY_BYTES) throw notResp(buf, offset);
      if (buf.length < next + length + 2) return undefined;
      return { value: buf.toString('utf8', next, next + length), next: next + length + 2 };
    }
    case '*': {
      const count = integer(line, buf, offset);
      if (count === -1) return { value: null, next };
      if (count < 0 || count > MAX_REPLY_BYTES) throw notResp(buf, offset);
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (item === undefined) return undefined;
        // An error inside an array (e.g. from EXEC) is kept as its text; we send no such command.
        items.push(item.value instanceof RedisReplyError ? item.value.message : item.value);
        at = item.next;
      }
      return { value: items, next: at };
    }
    default:
      throw notResp(buf, offset);
  }
}

function integer(text: string, buf: Buffer, offset: number): number {
  if (!/^-?\d+$/.test(text)) throw notResp(buf, offset);
  return Number(text);
}

function notResp(buf: Buffer, offset: number): RespProtocolError {
  return new RespProtocolError('the peer does not speak the Redis protocol', preview(buf.subarray(offset)));
}

/** A command as RESP: an array of bulk strings. */
function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}${CRLF}`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}${CRLF}${arg}${CRLF}`);
  return Buffer.from(parts.join(''), 'utf8');
}

export interface RespEndpoint {
  host: string;
  port: number;
  tls: TlsMode;
}

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (err: Error) => void;
}

export class RespConnection {
  /** Settles once the socket is connected (and the TLS handshake done). */
  readonly ready: Promise<void>;
  /** True once `ready` has resolved: the socket is up (and TLS negotiated). */
  connected = false;
  private readonly socket: net.Socket;
  private readonly pending: Pending[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private failure: Error | null = null;

  constructor(endpoint: RespEndpoint) {
    const encrypted = endpoint.tls === 'require' || endpoint.tls === 'verify';
    this.socket = encrypted
      ? tls.connect({
          host: endpoint.host,
          port: endpoint.port,
          // SNI takes a name, never an address.
          ...(net.isIP(endpoint.host) ? {} : { servername: endpoint.host }),
          rejectUnauthorized: endpoint.tls === 'verify',
        })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    this.socket.setNoDelay(true);
    this.ready = new Promise<void>((resolve, reject) => {
      this.socket.once(encrypted ? 'secureConnect' : 'connect', () => {
        this.connected = true;
        resolve();
      });
      this.socket.once('error', reject);
      this.socket.once('close', () => reject(this.failure ?? new RespProtocolError('the connection closed while connecting')));
    });
    // Nobody may be waiting on `ready` when it fails (the caller already gave up).
    this.ready.catch(() => {});
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () =>
      this.fail(new RespProtocolError('the server closed the connection before answering')),
    );
  }

  /** Send one command; its reply, or a RedisReplyError for an error reply. */
  command(...args: string[]): Promise<RespValue> {
    return this.send([args])[0]!;
  }

  /**
   * Send several commands in one write: one round trip for all. A reply each, in order; the
   * caller may leave some unread (a rejection nobody awaits is not reported as unhandled).
   */
  pipeline(commands: string[][]): Promise<RespValue>[] {
    const replies = this.send(commands);
    for (const reply of replies) reply.catch(() => {});
    return replies;
  }

  private send(commands: string[][]): Promise<RespValue>[] {
    const failure = this.failure;
    if (failure) return commands.map(() => Promise.reject(failure));
    const replies = commands.map(() => new Promise<RespValue>((resolve, reject) => this.pending.push({ resolve, reject })));
    this.socket.write(commands.length === 1 ? encodeCommand(commands[0]!) : Buffer.concat(commands.map(encodeCommand)));
    return replies;
  }

  /** Say goodbye (QUIT) and wait up to `graceMs` for the server to close; then drop the socket anyway. */
  async quit(graceMs: number): Promise<void> {
    if (!this.failure && graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([this.command('QUIT').catch(() => {}), grace]);
      clearTimeout(timer);
    }
    this.destroy();
  }

  /** Drop the socket at once; pending commands fail. */
  destroy(): void {
    this.fail(new RespProtocolError('the connection was closed by the client'));
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      let parsed = parseReply(this.buffer);
      while (parsed !== undefined) {
        this.buffer = this.buffer.subarray(parsed.next);
        const waiter = this.pending.shift();
        if (!waiter) {
          // Redis never speaks unasked; whatever does is something else (an SSH or SMTP banner).
          throw new RespProtocolError('the peer spoke before it was asked', preview(chunk));
        }
        if (parsed.value instanceof RedisReplyError) waiter.reject(parsed.value);
        else waiter.resolve(parsed.value);
        parsed = parseReply(this.buffer);
      }
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.pending.splice(0)) waiter.reject(this.failure);
  }
}

function preview(buf: Buffer): string {
  const text = buf.toString('latin1', 0, Math.min(buf.length, 40)).replace(/[^\x20-\x7e]/g, '.');
  return buf.length > 40 ? `${text}...` : text;
}
