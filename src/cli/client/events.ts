/**
 * The server's live event stream (`GET /api/endeavour/events`, Server-Sent Events) as the client
 * reads it: opened through the same Api (so the same certificate checks, pin and login session),
 * parsed into events that wait in a queue until asked for, and reopened with `Last-Event-ID` when
 * the connection drops, so that nothing is lost or repeated across the gap.
 *
 * Reconnecting is bounded: MAX_RETRIES attempts with a growing back-off, the count starting again
 * once a connection has carried events (or stayed up a while). When it gives up, next() answers
 * 'failed' and `failure` says why; the caller then does without the stream (polling).
 */
import type { IncomingMessage } from 'node:http';
import type { Api, Json, Query } from './http.ts';

export const EVENTS_PATH = '/api/endeavour/events';

export interface StreamEvent {
  /** The SSE id (the server's event seq), as a string. */
  id: string;
  /**
   * `event:`: session.started, session.updated, session.ended, task.updated, log, job.status,
   * reset; or `resync` (made here, not sent by the server): the stream dropped before it carried
   * any id (a server older than the opening id), so it was opened again from "now" and what
   * happened in between is not in it.
   */
  type: string;
  /** `data:` parsed as JSON. */
  data: Json;
}

export interface EventStreamOptions {
  /** Filters: `sessionId`, `jobId`, `types` (`session,task,log`). */
  query?: Query;
  /** Back-off before each reconnection attempt, in ms; its length is the number of attempts. */
  backoffMs?: number[];
  /** A connection silent for this long is taken for dead (the server sends a heartbeat every 15 s). */
  idleMs?: number;
  /** A connection that stayed up this long starts the attempt count again. */
  stableMs?: number;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 4000];
const IDLE_MS = 45_000;
const STABLE_MS = 10_000;

/** Parses an SSE byte stream (already decoded as UTF-8) into events; see the HTML standard, §9.2.6. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private type = '';
  private id: string | undefined;
  /** The block being read has an `id:` line. */
  private idInBlock = false;

  constructor(
    private onEvent: (id: string | undefined, type: string, data: string) => void,
    /** A block with an id and no data (the server's starting position): the id to resume after. */
    private onId?: (id: string) => void,
  ) {}

  push(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) return;
      // A CR at the very end may be the first half of a CRLF split between chunks.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) return;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      const data = this.data;
      const type = this.type || 'message';
      this.data = [];
      this.type = '';
      const idOnly = this.idInBlock && !data.length;
      this.idInBlock = false;
      if (data.length) this.onEvent(this.id, type, data.join('\n'));
      else if (idOnly && this.id !== undefined) this.onId?.(this.id);
      return;
    }
    if (line.startsWith(':')) return; // a comment (the heartbeat)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) {
      this.id = value;
      this.idInBlock = true;
    }
    // `retry:` is the browser's reconnection delay; this client keeps its own back-off.
  }
}

export class EventStream {
  /** The id of the last event received: where a reconnection resumes. */
  lastEventId: string | undefined;
  /** Why the stream gave up (set when next() answers 'failed'). */
  failure: string | undefined;
  /** How many times the connection was opened again after a drop. */
  reconnects = 0;

  private queue: StreamEvent[] = [];
  private wake: (() => void) | undefined;
  private res: IncomingMessage | undefined;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Reconnection attempts since the last connection that carried events. */
  private attempt = 0;
  private backoff: number[];
  private idleMs: number;
  private stableMs: number;

  private constructor(
    private api: Api,
    private o: EventStreamOptions,
  ) {
    this.backoff = o.backoffMs ?? BACKOFF_MS;
    this.idleMs = o.idleMs ?? IDLE_MS;
    this.stableMs = o.stableMs ?? STABLE_MS;
  }

  /**
   * Opens the stream; throws (the ApiError of a 404 when the server has no event stream, or any
   * other error) when that first connection cannot be made.
   */
  static async open(api: Api, o: EventStreamOptions = {}): Promise<EventStream> {
    const stream = new EventStream(api, o);
    await stream.connect();
    return stream;
  }

  /** Events waiting to be taken. */
  get pending(): number {
    return this.queue.length;
  }

  /** The next event, 'timeout' when none came within `timeoutMs`, or 'failed' once the stream gave up. */
  async next(timeoutMs: number): Promise<StreamEvent | 'timeout' | 'failed'> {
    if (!this.queue.length && this.failure === undefined && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(Math.max(0, timeoutMs), 2 ** 31 - 1));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
    const e = this.queue.shift();
    if (e) return e;
    return this.failure !== undefined || this.closed ? 'failed' : 'timeout';
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.res?.destroy();
    this.res = undefined;
    this.wake?.();
  }

  private async connect(): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.lastEventId !== undefined) headers['Last-Event-ID'] = this.lastEventId;
    const res = await this.api.openStream(EVENTS_PATH, { ...(this.o.query ? { query: this.o.query } : {}), headers });
    if (this.closed) {
      res.destroy();
      return;
    }
    this.attach(res);
  }

  private attach(res: IncomingMessage): void {
    this.res = res;
    const openedAt = Date.now();
    let received = 0;
    const parser = new SseParser((id, type, raw) => {
      let data: Json;
      try {
        data = JSON.parse(raw);
      } catch {
        return; // not an event of this server
      }
      if (id !== undefined) this.lastEventId = id;
      received++;
      this.queue.push({ id: id ?? '', type, data });
      this.wake?.();
    }, (id) => (this.lastEventId = id));
    const alive = () => {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => res.destroy(new Error(`no data for ${Math.round(this.idleMs / 1000)} s`)), this.idleMs);
      this.idleTimer.unref();
    };
    alive();
    res.setEncoding('utf8');
    let error: Error | undefined;
    res.on('data', (chunk: string) => {
      alive();
      parser.push(chunk);
    });
    res.on('error', (err) => (error = err));
    res.once('close', () => {
      clearTimeout(this.idleTimer);
      if (this.res !== res || this.closed) return;
      this.res = undefined;
      const stable = received > 0 || Date.now() - openedAt >= this.stableMs;
      void this.reconnect(error?.message ?? 'the server closed the stream', stable);
    });
  }

  /** Opens the stream again after `Last-Event-ID`, with back-off; gives up after the last attempt. */
  private async reconnect(reason: string, stable: boolean): Promise<void> {
    if (stable) this.attempt = 0;
    let last = reason;
    while (!this.closed) {
      const delay = this.backoff[this.attempt];
      if (delay === undefined) {
        this.failure = `the event stream dropped (${reason}) and could not be opened again: ${last}`;
        this.wake?.();
        return;
      }
      this.attempt++;
      await new Promise((r) => setTimeout(r, delay));
      if (this.closed) return;
      try {
        const resumed = this.lastEventId !== undefined;
        await this.connect();
        this.reconnects++;
        // Without an id to resume after, the new connection starts from "now": what happened
        // in the gap must be read from the REST API.
        if (!resumed) {
          this.queue.push({ id: '', type: 'resync', data: null });
          this.wake?.();
        }
        return;
      } catch (err) {
        last = (err as Error).message;
      }
    }
  }
}
