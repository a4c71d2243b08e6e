/**
 * The fast lane: a GET that Fastify has already routed to a route whose answer is kept in memory
 * (the job GET every monitoring client polls) is answered again before Fastify, when the same
 * request comes back.
 *
 * Why: Fastify's request lifecycle (its request and reply objects, routing, five hook stages,
 * the session check's promise) costs 1–3 µs per stage, a quarter of such a GET over the bare
 * route; no one stage is worth removing, all of them together are (bench/README.md, job-status).
 *
 * The lane decides nothing Fastify has not decided before:
 * - the route: it answers only a URL whose canonical form (src/api/paths.ts, the very rewrite
 *   Fastify runs before routing) Fastify routed to a route that told the lane so from its handler
 *   (`learn`), that is after the login check and the permission passed; the route's pattern and
 *   permission come from there, and the answer from that route's own keeper;
 * - the caller: only a session the auth service holds in memory with nothing left to check or
 *   write (auth.cachedPrincipal), with the route's permission;
 * - the answer: only what the route's keeper holds now.
 * Anything else (no session header, any Authorization header, a body, another method, a refusal,
 * a cold keeper, a closing server) goes to Fastify as it always did, and so does every error.
 * Answers carry the headers the server's onSend hook gives the same answer (FastLaneOptions.headers)
 * and count in the same metrics. Requests injected in tests (Fastify's `inject`) never take the lane: it stands in
 * front of the Node server's request listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Permission } from '../core/permissions.ts';
import type { Principal } from '../services/index.ts';
import { missingPermission } from './access.ts';
import { sessionHeader } from './auth.ts';
import { canonicalPath } from './paths.ts';

/** What a route's keeper holds for a request now; undefined sends the request to Fastify. */
export type LaneAnswer = (req: IncomingMessage) => { body: Buffer | string; type: string } | undefined;

interface Learned {
  /** The route's pattern (the metrics label). */
  route: string;
  permission: Permission | 'session';
  answer: LaneAnswer;
}

/** Distinct URLs learnt (job ids under the canonical paths), cleared when full. */
const MAX_LEARNED = 1024;

export interface FastLaneOptions {
  /** auth.cachedPrincipal. */
  principalOf(sessionId: string): Principal | undefined;
  /** The headers the server's onSend hook gives such an answer (besides type and length). */
  headers: readonly (readonly [string, string])[];
}

export class FastLane {
  private readonly learned = new Map<string, Learned>();
  private closed = false;
  /** Counts an answer in the HTTP metrics (set once the metrics routes exist). */
  count: (method: string, route: string, status: number, seconds: number) => void = () => {};

  constructor(private readonly options: FastLaneOptions) {}

  /**
   * From a route's handler: Fastify routed this request here and it passed the login check and
   * the permission, so a later GET of the same canonical URL may be answered by `answer`.
   */
  learn(req: FastifyRequest, answer: LaneAnswer): void {
    // Read once: Fastify builds routeOptions afresh at each read.
    const { config: { permission }, url: route } = req.routeOptions;
    // Only routes whose permission needs no look at the query (an ?action= decides some).
    if (this.closed || req.method !== 'GET' || route === undefined || typeof permission !== 'string') return;
    // req.url is the rewritten, canonical URL (Fastify's rewriteUrl ran canonicalPath).
    if (this.learned.size >= MAX_LEARNED && !this.learned.has(req.url)) this.learned.clear();
    this.learned.set(req.url, { route, permission, answer });
  }

  /** The server is closing: Fastify answers what still comes (503, or its own way). */
  close(): void {
    this.closed = true;
    this.learned.clear();
  }

  /** Answers `req` and says true, or leaves it untouched for Fastify and says false. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.learned.size === 0 || req.method !== 'GET') return false;
    const started = performance.now();
    const h = req.headers;
    // A body (which the server's guards read or refuse) or any Authorization header (an API key,
    // the metrics token, Basic): Fastify's.
    if (h.authorization !== undefined || h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')) return false;
    const path = canonicalPath(req.url ?? '/');
    const entry = path.ok ? this.learned.get(path.url) : undefined;
    if (!entry) return false;
    const sessionId = sessionHeader(req);
    const who = sessionId === undefined ? undefined : this.options.principalOf(sessionId);
    if (!who || missingPermission(who.access, entry.permission)) return false;
    let answer: ReturnType<LaneAnswer>;
    try {
      answer = entry.answer(req);
    } catch {
      return false; // Fastify runs the route, and its error handler answers
    }
    if (!answer) return false;
    const head: string[] = ['content-type', answer.type, 'content-length', String(Buffer.byteLength(answer.body))];
    for (const [name, value] of this.options.headers) head.push(name, value);
    res.writeHead(200, head);
    res.end(answer.body);
    this.count('GET', entry.route, 200, (performance.now() - started) / 1000);
    return true;
  }
}
