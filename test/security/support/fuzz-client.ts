/**
 * The fuzzer's HTTP client: sends a request exactly as built (a raw path, chosen headers, a body
 * of raw bytes, or none at all) and gives up at an absolute deadline, so a request the server
 * never finishes is reported as a hang rather than stalling the run. An event stream (or any
 * answer whose type says it streams) is read only up to its headers and first bytes.
 */
import https from 'node:https';

export interface FuzzRequest {
  method: string;
  /** Path and query as sent on the request line (already percent-encoded where meant to be). */
  path: string;
  /** Header values; `undefined` leaves a header out. Names are sent as written. */
  headers: Record<string, string | string[] | undefined>;
  body?: Buffer;
}

export interface FuzzReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as read (the first bytes only, for a stream). */
  text: string;
  /** True when the answer was a stream cut off after its first bytes. */
  streamed: boolean;
  ms: number;
}

export class Hang extends Error {}

const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true, maxSockets: 4 });
const fresh = new https.Agent({ rejectUnauthorized: false, keepAlive: false });

/** Content types that never end on their own. */
const STREAMING = /^text\/event-stream\b/i;

/** How often a request was sent again because the kept-alive connection it went out on had been closed. */
export const resends = { count: 0 };

/**
 * Sends the request; once more on a fresh connection when a kept-alive one turned out to be
 * closed by the server before the request reached it (the race every keep-alive client has).
 */
export async function send(base: string, r: FuzzRequest, deadlineMs: number): Promise<FuzzReply> {
  try {
    return await sendOnce(base, r, deadlineMs, true);
  } catch (e) {
    if (!(e instanceof StaleSocket)) throw e;
    resends.count++;
    return sendOnce(base, r, deadlineMs, false);
  }
}

class StaleSocket extends Error {}

function sendOnce(base: string, r: FuzzRequest, deadlineMs: number, reuse: boolean): Promise<FuzzReply> {
  const started = Date.now();
  const url = new URL(base);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k] = v;
  if (r.body !== undefined) headers['Content-Length'] = String(r.body.length);
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const req = https.request({
      host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent: reuse ? agent : fresh,
      // Node refuses to send some of what a fuzzer means to send (a header without a value, for
      // one); everything else about the request is left to the server to judge.
      setHost: r.headers.Host === undefined && r.headers.host === undefined,
    }, (res) => {
      const chunks: Buffer[] = [];
      const streaming = STREAMING.test(String(res.headers['content-type'] ?? ''));
      const done = (streamed: boolean) => finish(() => resolve({
        status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), streamed, ms: Date.now() - started,
      }));
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (streaming) {
          done(true);
          req.destroy();
        }
      });
      res.on('end', () => done(false));
      res.on('error', (e) => finish(() => reject(e)));
      // A stream with nothing to say yet: its headers are the answer.
      if (streaming) setImmediate(() => setTimeout(() => { done(true); req.destroy(); }, 50));
    });
    const timer = setTimeout(() => finish(() => {
      req.destroy();
      reject(new Hang(`no complete answer within ${deadlineMs} ms`));
    }), deadlineMs);
    req.on('error', (e) => finish(() => reject(req.reusedSocket && (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? new StaleSocket(e.message) : e)));
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}
