/**
 * A request whose path goes on the wire exactly as written: no URL parsing, so backslashes,
 * dot segments, odd escapes and raw bytes (written as latin1) reach the server as an attacker
 * would send them. test/support/server.ts's client builds a URL, which would tidy them away.
 */
import https from 'node:https';

const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true, maxSockets: 8 });

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export function rawRequest(
  base: string,
  method: string,
  path: string,
  o: { headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<RawReply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: hostname, port, method, path, agent, headers: o.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error(`${method} ${path} did not answer in time`)));
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}
