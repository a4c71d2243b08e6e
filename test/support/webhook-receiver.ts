/**
 * A real HTTP webhook receiver on a loopback port, for tests: it keeps every request (headers
 * and raw body) and answers as `respond` says — a status and body, `hold` (never answer while
 * held), or `drop` (close the connection).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  at: number;
}

export type Answer = { status: number; body?: string } | 'hold' | 'drop';

export interface Receiver {
  url: string;
  received: Received[];
  /** How to answer the n-th request (0-based); default 200 "ok". */
  respond: (n: number, r: Received) => Answer;
  /** Answers every held request now with `status`. */
  release(status?: number): void;
  held(): number;
  /** Resolves once `n` requests arrived (fails at the deadline). */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(respond: Receiver['respond'] = () => ({ status: 200, body: 'ok' })): Promise<Receiver> {
  const received: Received[] = [];
  const held: ServerResponse[] = [];
  const waiters = new Set<() => boolean>();
  const self: Receiver = {
    url: '',
    received,
    respond,
    release(status = 200) {
      for (const res of held.splice(0)) if (!res.writableEnded && !res.destroyed) res.writeHead(status).end('released');
    },
    held: () => held.length,
    waitFor(n, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length >= n) {
            clearTimeout(timer);
            resolve(received.slice());
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => reject(new Error(`receiver: ${received.length} of ${n} requests arrived within ${timeoutMs} ms`)), timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close: () => new Promise((resolve) => {
      self.release(503);
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const r: Received = { headers: req.headers, body, json, at: Date.now() };
      const n = received.length;
      received.push(r);
      for (const w of [...waiters]) if (w()) waiters.delete(w);
      const answer = self.respond(n, r);
      if (answer === 'hold') held.push(res);
      else if (answer === 'drop') req.socket.destroy();
      else res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return self;
}

/** Checks `X-Census-Signature` the way a receiver would (docs/notifications.md). */
export function signatureValid(secret: string, r: Received): boolean {
  const ts = String(r.headers['x-census-timestamp'] ?? '');
  const given = String(r.headers['x-census-signature'] ?? '');
  const want = `v1=${createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex')}`;
  return given.length === want.length && timingSafeEqual(Buffer.from(given), Buffer.from(want));
}
