/**
 * GET /api/endeavour/events: the live event stream (Server-Sent Events) of job and session state
 * changes and new log entries, resumable with `Last-Event-ID` (a Census addition; docs/operations.md).
 *
 * Every event comes from the event journal in the store (store/events.ts, read through
 * services/events.ts), whose `seq` is the SSE id. Each connection keeps the last seq it has
 * passed and only ever asks for `seq > last ORDER BY seq`; the journal's ordering guarantee (a
 * reader always sees a prefix of it) makes that gap-free and repeat-free, on SQLite and on
 * PostgreSQL, whichever process wrote the events.
 *
 * One hub per server finds new events: every POLL_MS it reads the journal's highest seq (one
 * cheap query, however many clients), and a commit in this process wakes it at once. When the
 * journal moved, it wakes the connections, each of which reads what is new for its filters. The
 * hub runs its timer only while someone is connected, and sends the heartbeat comment.
 *
 * A stream lives no longer than its login session. Auth tells the hub at once when a session of
 * this process ends (logout, expiry found by a request, a password change ending the user's other
 * sessions), and the hub closes that session's streams. Sessions ended elsewhere (another server
 * on the same PostgreSQL, maintenance removing idle ones) or simply gone idle are found by a
 * re-check of every streamed session each SESSION_CHECK_MS: such a stream closes within that
 * time plus one store read. The stream itself does not count as use of the session.
 */
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { systemActor, type Actor } from '../core/actor.ts';
import { invalid } from '../core/errors.ts';
import { INT32_MAX } from '../core/query.ts';
import type { LogEntry } from '../core/types.ts';
import { EVENT_TYPES, type EventFilter, type EventService, type EventType, type StoredEvent } from '../services/index.ts';
import type { AuthService, EndedSessions, Principal } from '../services/index.ts';
import { actorOf, queryParam, type ApiContext } from './context.ts';
import { baseUrl } from './links.ts';
import { logToWire } from './wire.ts';

export const EVENTS_ROUTE = '/api/endeavour/events';

const POLL_MS = 250;
const HEARTBEAT_MS = 15_000;
const BATCH = 500;
/** What browsers wait before reconnecting after the stream dropped. */
const RETRY_MS = 2_000;
/** How often open streams' sessions are checked again (the bound on closing after a logout elsewhere). */
export const SESSION_CHECK_MS = 5_000;

/**
 * The login session of an event-stream request: browsers' EventSource cannot send headers, so
 * this route (only this one) also takes it as `?esessionid=`. Used by the auth hook in server.ts.
 */
export function streamSessionId(req: FastifyRequest): string | undefined {
  if (req.method !== 'GET' || req.routeOptions.url !== EVENTS_ROUTE) return undefined;
  return queryParam(req, 'esessionid')?.trim() || undefined;
}

/** `types=session,log`: a family (session, task, log, job) or an exact type (session.ended). */
function parseTypes(raw: string | undefined): EventType[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const out = new Set<EventType>();
  for (const word of raw.split(',').map((w) => w.trim().toLowerCase()).filter(Boolean)) {
    const matches = EVENT_TYPES.filter((t) => t === word || t.startsWith(`${word}.`));
    if (!matches.length) throw invalid(`Unknown event type "${word}"; use session, task, log, job or one of ${EVENT_TYPES.join(', ')}.`);
    for (const t of matches) out.add(t);
  }
  return [...out];
}

function parseSeq(raw: string | string[] | undefined, what: string): number | undefined {
  const v = (Array.isArray(raw) ? raw[raw.length - 1] : raw)?.trim();
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v)) throw invalid(`${what} must be the id of an event (a number).`);
  return Number(v);
}

/** One connected client. */
class Connection {
  /** The seq up to which this client has everything it asked for. */
  last: number;
  closed = false;
  private running: Promise<void> | undefined;
  /** The highest seq known committed, for the next catch-up round. */
  private horizon = 0;

  constructor(
    private events: EventService,
    /** Who the stream reads for: the user who opened it. */
    private actor: Actor,
    private out: PassThrough,
    private filter: EventFilter,
    private base: string,
    start: number,
    private onClose: () => void,
    /** The login session the stream was opened with (undefined: not bound to one). */
    readonly principal?: Principal,
  ) {
    this.last = start;
  }

  /**
   * Sends what is new up to at least `horizon` (a seq known to be committed before this call).
   * Calls while a catch-up runs are folded into one more round after it.
   */
  wake(horizon: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    const again = horizon > this.horizon;
    this.horizon = Math.max(this.horizon, horizon);
    if (this.running && !again) return this.running;
    if (this.running) return this.running.then(() => this.wake(horizon));
    this.running = (async () => {
      try {
        // The horizon is taken before the round's first read, never during it: only then is
        // everything up to it sure to be in what the read sees.
        await this.catchUp(this.horizon);
      } catch (err) {
        // A failed read (database gone, server stopping): end the stream; the client resumes
        // from its Last-Event-ID.
        if (!this.closed) console.error(`census: event stream failed: ${(err as Error).message}`);
        this.close();
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async catchUp(horizon: number): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const { events, last, full } = await this.events.after(this.actor, this.last, this.filter, BATCH);
      for (const e of events) {
        if (this.closed) return;
        if (!this.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(this.render(e))}\n\n`)) await this.drained();
        this.last = e.seq;
      }
      // Events the caller may not see were read too: the next read starts after them.
      if (last > this.last) this.last = last;
      if (!full) break;
    }
    // That read saw everything committed up to `horizon`, and nothing up to it passed the filter
    // beyond what was sent: the next read can start there.
    if (horizon > this.last) this.last = horizon;
  }

  private render(e: StoredEvent): unknown {
    return e.type === 'log' ? logToWire(this.base, e.data as LogEntry) : e.data;
  }

  write(text: string): boolean {
    if (this.closed) return true;
    return this.out.write(text);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.out.off('drain', done);
        this.out.off('close', done);
        resolve();
      };
      this.out.on('drain', done);
      this.out.on('close', done);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    if (!this.out.destroyed) this.out.end();
  }

  /** Resolves when no read is in flight. */
  settled(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}

/** Finds new events for every connection of this server; see the top of this file. */
class EventHub {
  private connections = new Set<Connection>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private tickAgain = false;
  private known = 0;
  private lastBeat = Date.now();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private lastSessionCheck = Date.now();
  private checkingSessions: Promise<void> | undefined;

  /** The hub polls the journal's head for every stream at once, on behalf of no one user. */
  private readonly actor = systemActor('event-stream');

  constructor(
    private events: EventService,
    private auth: AuthService,
    private pollMs = POLL_MS,
    private heartbeatMs = HEARTBEAT_MS,
    private sessionCheckMs = SESSION_CHECK_MS,
  ) {}

  stats(): { connections: number; polling: boolean } {
    return { connections: this.connections.size, polling: this.timer !== undefined };
  }

  add(c: Connection, known: number): void {
    this.connections.add(c);
    this.known = Math.max(this.known, known);
    if (this.timer || this.stopped) return;
    this.lastBeat = Date.now();
    this.timer = setInterval(() => void this.tick(), this.pollMs);
    this.timer.unref();
    this.lastSessionCheck = Date.now();
    const offEvents = this.events.onCommitted(this.actor, () => void this.tick());
    const offSessions = this.auth.onSessionsEnded((ended) => this.closeEnded(ended));
    this.unsubscribe = () => {
      offEvents();
      offSessions();
    };
  }

  /** Closes the streams of sessions that just ended in this process. */
  private closeEnded(ended: EndedSessions): void {
    const gone = 'sessionIds' in ended
      ? (p: Principal) => ended.sessionIds.includes(p.sessionId)
      : (p: Principal) => p.userId === ended.userId && p.sessionId !== ended.except;
    for (const c of [...this.connections]) if (c.principal && gone(c.principal)) c.close();
  }

  /** Asks Auth again about every streamed session; closes the streams of those no longer open. */
  private checkSessions(): Promise<void> {
    this.checkingSessions ??= (async () => {
      try {
        const ids = new Set([...this.connections].flatMap((c) => (c.principal ? [c.principal.sessionId] : [])));
        for (const id of ids) {
          if (this.stopped || (await this.auth.isActive(id))) continue;
          for (const c of [...this.connections]) if (c.principal?.sessionId === id) c.close();
        }
      } catch (err) {
        if (!this.stopped) console.error(`census: event stream session check failed: ${(err as Error).message}`);
      } finally {
        this.checkingSessions = undefined;
      }
    })();
    return this.checkingSessions;
  }

  remove(c: Connection): void {
    this.connections.delete(c);
    if (this.connections.size) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private tick(): Promise<void> {
    if (this.ticking) {
      this.tickAgain = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      try {
        do {
          this.tickAgain = false;
          if (!this.connections.size || this.stopped) return;
          const latest = await this.events.latest(this.actor);
          if (latest > this.known) {
            this.known = latest;
            for (const c of this.connections) void c.wake(latest);
          }
          if (Date.now() - this.lastSessionCheck >= this.sessionCheckMs) {
            this.lastSessionCheck = Date.now();
            void this.checkSessions();
          }
          if (Date.now() - this.lastBeat >= this.heartbeatMs) {
            this.lastBeat = Date.now();
            for (const c of this.connections) c.write(': heartbeat\n\n');
          }
        } while (this.tickAgain);
      } catch (err) {
        if (!this.stopped) console.error(`census: event poll failed: ${(err as Error).message}`);
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  /** Ends every stream (server stopping) and waits for reads in flight, before the store closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.connections];
    for (const c of all) c.close();
    await this.ticking;
    await this.checkingSessions;
    await Promise.all(all.map((c) => c.settled()));
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The event stream's connections and whether its poller runs (tests check nothing leaks). */
    eventStreams: { stats(): { connections: number; polling: boolean } };
  }
}

const idPattern = { type: 'string', pattern: '^\\s*\\d{1,15}\\s*$' } as const;

export const EVENTS_SCHEMA = {
  'x-permission': 'policy.view',
  summary: 'Live event stream (Server-Sent Events)',
  description:
    'The response is a stream (`text/event-stream`), not JSON: one SSE event per change, each with `id: <seq>`, ' +
    '`event: <type>` (session.started, session.updated, session.ended, task.updated, log, job.status, and reset) and ' +
    '`data: <JSON>`; a comment line every 15 s keeps it open. The stream opens with an `id:` and no data: where it starts. Reconnect with the `Last-Event-ID` header (or `?lastEventId=`) ' +
    'to get every event after that id; an `event: reset` first says the id is older than what is kept (reload state). ' +
    'Without it the stream starts from now. Needs the login session, as header or, for EventSource, as `?esessionid=`.',
  tags: ['Events'],
  querystring: {
    type: 'object',
    properties: {
      jobId: { type: 'integer', minimum: 0, maximum: INT32_MAX, description: 'Only events of this job.' },
      sessionId: { type: 'integer', minimum: 0, description: 'Only events of this job session.' },
      types: { type: 'string', description: 'Comma-separated families (session, task, log, job) or exact types (session.ended).' },
      lastEventId: { ...idPattern, description: 'Resume after this event id (as the Last-Event-ID header).' },
      esessionid: { type: 'string', description: 'The login session id, for clients that cannot send X-Endeavour-Sessionid (EventSource).' },
    },
  },
  headers: {
    type: 'object',
    properties: {
      'last-event-id': { ...idPattern, description: 'Resume after this event id (browsers send it when they reconnect).' },
    },
  },
  response: {
    200: {
      description: 'A text/event-stream that stays open; see the operation description for the events.',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
  },
} as const;

export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { events } = ctx.services;
  const hub = new EventHub(events, ctx.services.auth);
  app.decorate('eventStreams', { stats: () => hub.stats() });
  // Open streams would keep the server from closing: end them first, and let reads in flight
  // finish before the store closes.
  app.addHook('preClose', async () => hub.stop());

  app.get(EVENTS_ROUTE, { schema: EVENTS_SCHEMA }, async (req: FastifyRequest, reply: FastifyReply) => {
    const q = req.query as { jobId?: number | string; sessionId?: number | string; types?: string };
    const filter: EventFilter = {
      ...(q.jobId !== undefined ? { jobId: Number(q.jobId) } : {}),
      ...(q.sessionId !== undefined ? { sessionId: Number(q.sessionId) } : {}),
    };
    const types = parseTypes(q.types);
    if (types) filter.types = types;
    const resume = parseSeq(req.headers['last-event-id'], 'Last-Event-ID') ?? parseSeq(queryParam(req, 'lastEventId'), 'lastEventId');

    const actor = await actorOf(ctx, req);
    const { latest, start, reset: gap } = await events.open(actor, resume);
    const reset = gap && { reason: gap.reason, lastEventId: String(resume), oldest: gap.oldest === undefined ? null : String(gap.oldest) };

    const out = new PassThrough();
    const conn = new Connection(events, actor, out, filter, baseUrl(req), start, () => hub.remove(conn), req.principal);
    const closed = () => conn.close();
    req.raw.once('close', closed);
    reply.raw.once('close', closed);
    out.once('close', closed);
    out.on('error', closed); // a write racing the client's disconnect

    // The position the stream starts from, as an id without data: a client that drops before
    // the first event resumes from here (Last-Event-ID) instead of from a later "now" with a gap
    // it would have to read through the REST API (the SSE standard keeps the id of a data-less block).
    out.write(`retry: ${RETRY_MS}\nid: ${start}\n: census event stream\n\n`);
    if (reset) out.write(`id: ${latest}\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n`);
    hub.add(conn, latest);
    // Replay (when resuming), then whatever the hub finds next.
    void conn.wake(latest);

    return reply
      .code(200)
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache, no-transform')
      .header('x-accel-buffering', 'no')
      .send(out);
  });
}
