/**
 * HATEOAS links the way SPP writes them: absolute hrefs, so that clients which follow
 * `links.nextPage.href` come back to Census. Where they point (docs/operations.md, "Links"):
 * - the configured public URL (`census server --public-url`), when there is one;
 * - otherwise the request's own `Host`, but only when it names this server as it listens (the
 *   bound address and port; the loopback names for a loopback bind; the machine's host name and
 *   the address the connection reached for a wildcard bind);
 * - otherwise the address the connection reached. A `Host` a proxy forwarded, or none at all,
 *   never sends a client (and its session id) elsewhere.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface Link {
  href: string;
  rel: string;
  title?: string;
}
export type Links = Record<string, Link>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The configured public URL links are built from (see useLinkBase). */
    publicUrl: string | undefined;
  }
}

/**
 * `https://census.example.com/` → `https://census.example.com`: an http(s) URL with an optional
 * path prefix, no credentials, query or fragment. Throws a message fit for the command line.
 */
export function normalizePublicUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(`--public-url "${text}" is not a URL; give the address clients use, e.g. https://census.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`--public-url must be an http:// or https:// URL, not ${url.protocol}`);
  if (url.username || url.password || url.search || url.hash) throw new Error('--public-url must not hold a user name, password, query or fragment');
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** Makes every link of `app` start with `publicUrl` (when given); call before the routes are added. */
export function useLinkBase(app: FastifyInstance, publicUrl: string | undefined): void {
  app.decorate('publicUrl', publicUrl === undefined ? undefined : normalizePublicUrl(publicUrl));
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const isLoopback = (address: string) => address === '::1' || address === 'localhost' || /^127\./.test(address);
const isWildcard = (address: string) => address === '0.0.0.0' || address === '::';
/** `::ffff:127.0.0.1` (IPv4 over an IPv6 socket) → `127.0.0.1`. */
const plain = (address: string) => address.replace(/^::ffff:(?=\d+\.)/i, '').toLowerCase();
const hostPart = (address: string) => (address.includes(':') ? `[${address}]` : address);

/** `name`, `name:port`, `[v6]` or `[v6]:port`; undefined for anything else (absent, empty, junk). */
function parseHost(header: string | undefined): { name: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(\d{1,5}))?$/i.exec(header?.trim() ?? '');
  if (!m) return undefined;
  return { name: m[1]!.replace(/^\[|\]$/g, '').toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * baseUrl runs on every request (the job status GET's hot path too): each listening server's
 * bound address is asked once (server.address() is a getsockname system call), and the answer
 * for a scheme, reached address and Host header is kept, a few dozen at most (the header is the
 * client's to choose).
 */
const bounds = new WeakMap<Server, AddressInfo>();
const answers = new WeakMap<Server, Map<string, string>>();
const MAX_ANSWERS = 64;

export const baseUrl = (req: FastifyRequest): string => rawBaseUrl(req.server, req.raw);

/**
 * baseUrl for a request Fastify has not wrapped (the fast lane's, src/api/fast-lane.ts); the
 * scheme is the connection's, as Fastify's `req.protocol` is without a trusted proxy.
 */
export function rawBaseUrl(app: Pick<FastifyInstance, 'publicUrl' | 'server'>, req: IncomingMessage): string {
  if (app.publicUrl) return app.publicUrl;
  const scheme = (req.socket as TLSSocket | undefined)?.encrypted ? 'https' : 'http';
  const server = app.server;
  let bound = bounds.get(server);
  if (!bound) {
    const address = server.address();
    if (!address || typeof address !== 'object') {
      // Not listening on a socket (requests injected in tests): nothing to compare with.
      return `${scheme}://${parseHost(req.headers.host) ? req.headers.host!.trim() : 'localhost'}`;
    }
    bounds.set(server, (bound = address));
  }
  const reachedRaw = req.socket?.localAddress ?? '';
  const key = `${scheme} ${reachedRaw} ${req.headers.host ?? ''}`;
  let known = answers.get(server);
  const hit = known?.get(key);
  if (hit !== undefined) return hit;
  if (!known || known.size >= MAX_ANSWERS) answers.set(server, (known = new Map()));
  const answer = linkBase(scheme, bound, plain(reachedRaw), parseHost(req.headers.host), req.headers.host);
  known.set(key, answer);
  return answer;
}

function linkBase(scheme: string, bound: AddressInfo, reached: string, host: ReturnType<typeof parseHost>, hostHeader: string | undefined): string {
  const address = plain(bound.address);
  const names = new Set([address, reached]);
  if (isLoopback(address)) LOOPBACK_NAMES.forEach((n) => names.add(n));
  if (isWildcard(address)) [hostname().toLowerCase(), ...LOOPBACK_NAMES].forEach((n) => names.add(n));
  if (host && names.has(host.name) && (host.port ?? (scheme === 'https' ? 443 : 80)) === bound.port) {
    return `${scheme}://${hostHeader!.trim()}`;
  }
  const fallback = isWildcard(address) && reached ? reached : address;
  return `${scheme}://${hostPart(fallback)}:${bound.port}`;
}

export const link = (base: string, path: string, rel = 'related', title?: string): Link =>
  title === undefined ? { href: base + path, rel } : { href: base + path, rel, title };

/** A query string holding a JSON filter, encoded the way SPP's own links are. */
export const filterQuery = (criteria: { property: string; value: unknown; op?: string }[]): string =>
  `filter=${encodeURIComponent(JSON.stringify(criteria))}`;
