/**
 * Time and connection limits for every phase of a request, so that a slow or stalled client
 * holds a connection for seconds, not minutes, and one address cannot take every connection
 * (docs/operations.md, "Request limits"). All of them are settings of `census server`.
 */
import type { Server } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { SppError } from './errors.ts';
import { errorPayload, spellsNgp } from './paths.ts';

export interface HttpLimits {
  /** Time from a connection's first byte to the end of the request's headers. */
  headersTimeoutMs: number;
  /** Longest pause while a request body is being received; then 408 and the connection closes. */
  bodyIdleTimeoutMs: number;
  /** Time to receive a whole request, headers and body. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  keepAliveTimeoutMs: number;
  /** Open connections from one source address; more are closed as they arrive. */
  maxConnectionsPerAddress: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  bodyIdleTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 10_000,
  maxConnectionsPerAddress: 256,
};

/**
 * Options for Node's HTTP(S) server. Node checks header and request deadlines on a timer of its
 * own (every 30 s by default), which would let a deadline of seconds run for half a minute.
 */
export function nodeServerOptions(limits: HttpLimits) {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  };
}

/** Closes connections beyond the per-address limit as soon as they are accepted (before TLS). */
export function limitConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (open.get(address) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      return;
    }
    open.set(address, n);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

/**
 * The request body as the parser reads it, cut with a 408 in SPP's shape when the client stops
 * sending for `idleMs`. Without it a request that announces a large body and sends a few bytes
 * keeps its connection until the whole-request deadline. The clock stops when the body has
 * arrived or the answer has gone (a route may answer without reading the body: then nobody is
 * waiting for it, and Node discards the rest).
 */
export function guardBody(source: Readable, idleMs: number, answer: NodeJS.EventEmitter): Readable {
  const out = new PassThrough();
  // Errors are for the parser, when it reads; unread, the stream must not throw into the process.
  out.on('error', () => undefined);
  const timer = setTimeout(() => {
    source.unpipe(out);
    out.destroy(Object.assign(
      new SppError(408, 'XSBRequestTimeoutException', `The request body stopped arriving for ${Math.round(idleMs / 1000)} s; send it again.`),
      { statusCode: 408 },
    ));
  }, idleMs);
  timer.unref();
  source.on('data', () => timer.refresh());
  const done = () => clearTimeout(timer);
  source.once('end', done);
  source.once('close', done);
  out.once('close', done);
  answer.once('finish', done);
  answer.once('close', done);
  source.on('error', (err) => out.destroy(err));
  source.pipe(out);
  return out;
}

/**
 * Answers what Node's HTTP parser refuses before any route runs (a malformed request line or
 * header, headers too large, a request deadline passed) in SPP's shape. The connection is ended
 * gracefully and what the client still sends is read and dropped for a moment: closing a socket
 * with unread data resets it, and the client would lose the answer.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, text, id, description] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT'
      ? [408, 'Request Timeout', 'XSBRequestTimeoutException', 'The request did not arrive in time.']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'XSBInvalidArgumentException', 'The request headers are too large.']
        : [400, 'Bad Request', 'XSBInvalidArgumentException', 'The request is not valid HTTP (request line or headers).'];
  // The request line, where the parser got that far: errors under /ngp are wrapped its way. A
  // long request line arrives in several reads (TLS records are 16 KiB at most) and the failing
  // packet holds only its end: then the path is unknown, and the answer has both shapes (the
  // NodeJS layer's wrapped one carries `id` and `description` on top as well).
  const line = (err as { rawPacket?: Buffer }).rawPacket?.toString('latin1').split('\r\n', 1)[0] ?? '';
  const target = /^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(line) ? line.split(' ')[1]! : null;
  const body = JSON.stringify(errorPayload(target === null || spellsNgp(target), status, { id, description }));
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.on('data', () => undefined);
  socket.resume();
  setTimeout(() => socket.destroy(), 2_000).unref();
}
