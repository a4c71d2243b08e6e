/**
 * Waiting for a job session to end (`job run --wait`, `job status --wait`, `session log --follow`):
 * follows the server's event stream for the session (or, without one, polls the session and its
 * task counts), shows progress (a bar on a terminal, plain lines when something changes
 * otherwise), prints log entries as they arrive with `--follow`, and stops at `--timeout`.
 */
import { ENDED_TASK_STATUSES, isSessionLive } from '../../core/status.ts';
import { ApiError, EXIT, exitForStatus } from './errors.ts';
import { EventStream } from './events.ts';
import { humanDuration, logLine, progressBar, progressLine, type Progress } from './format.ts';
import type { Api, Json } from './http.ts';
import { PollingLogSource, type LogEntry, type LogSource } from './logs.ts';
import type { Io } from './io.ts';

export interface WaitOptions {
  /** Print log entries as they are written (and poll every 250 ms instead of every second). */
  follow: boolean;
  /** Stop waiting after this long; the session goes on on the server. */
  timeoutMs?: number | undefined;
  /** Machine output: no progress; log entries (with follow) and the final session as JSON lines. */
  json: boolean;
  /** Show no progress, only the log (`session log --follow`); print nothing at the end. */
  logOnly?: boolean;
  /** Print nothing at the end (the caller prints what it wants). */
  quietEnd?: boolean;
  /** Log types to show with follow (all when empty). */
  types?: string[] | undefined;
  /** Where log entries come from; polling the log endpoint unless given. */
  logSource?: LogSource;
  /** Poll interval in ms (default 1000, or 250 with follow); with the event stream, how often a terminal's bar is redrawn. */
  intervalMs?: number;
  /** Follow the server's event stream (the default); false: poll. */
  events?: boolean;
}

export interface WaitResult {
  session: Json;
  timedOut: boolean;
  exitCode: number;
}

interface View {
  progress(p: Progress): void;
  log(e: LogEntry): void;
  end(): void;
}

/** A single line redrawn in place on a terminal. */
class TtyView implements View {
  private last: Progress | undefined;
  private drawn = false;
  constructor(private io: Io) {
    io.out.write('\x1b[?25l'); // hide the cursor while the bar moves
  }
  private draw() {
    if (!this.last) return;
    this.io.out.write(`\r\x1b[2K${progressBar(this.last, this.io.out.columns || 80)}`);
    this.drawn = true;
  }
  progress(p: Progress) {
    this.last = p;
    this.draw();
  }
  log(e: LogEntry) {
    this.io.out.write(`${this.drawn ? '\r\x1b[2K' : ''}${logLine(e)}\n`);
    this.drawn = false;
    this.draw();
  }
  end() {
    this.io.out.write(`${this.drawn ? '\n' : ''}\x1b[?25h`);
    this.drawn = false;
  }
}

/** Plain lines, one whenever status, percent or task counts change. */
class PlainView implements View {
  private key = '';
  constructor(
    private io: Io,
    private showProgress: boolean,
  ) {}
  progress(p: Progress) {
    if (!this.showProgress) return;
    const key = `${p.status} ${Math.round(p.percent)} ${p.done} ${p.total}`;
    if (key === this.key) return;
    this.key = key;
    this.io.out.write(`${progressLine(p, this.io.now())}\n`);
  }
  log(e: LogEntry) {
    this.io.out.write(`${logLine(e)}\n`);
  }
  end() {}
}

/** JSON lines: each log entry (with follow) as it comes; progress is not shown. */
class JsonView implements View {
  constructor(private io: Io) {}
  progress() {}
  log(e: LogEntry) {
    this.io.out.write(`${JSON.stringify(e)}\n`);
  }
  end() {}
}

const ENDED_FILTER = JSON.stringify([{ property: 'status', op: 'IN', value: ENDED_TASK_STATUSES }]);

/** The session, and how many of its tasks there are and have ended. */
export async function sessionProgress(api: Api, sessionId: string): Promise<{ session: Json; total: number; done: number }> {
  const base = `/api/endeavour/jobsession/${encodeURIComponent(sessionId)}`;
  const [session, all, ended] = await Promise.all([
    api.get(base),
    api.get(`${base}/task`, { pageSize: 1 }),
    api.get(`${base}/task`, { pageSize: 1, filter: ENDED_FILTER }),
  ]);
  return { session, total: Number(all?.total ?? 0), done: Number(ended?.total ?? 0) };
}

/** "Session 1712… (Application Server Inventory) ended PARTIAL in 3.2 s: 1 of 2 tasks completed, 1 failed, 0 skipped." */
export function sessionSummary(s: Json, total: number, done: number): string {
  const stats = Array.isArray(s?.properties?.statistics) ? s.properties.statistics.find((x: Json) => x?.resourceType === 'appserver' || x?.resourceType === 'hypervisor') : undefined;
  const counts = stats
    ? `${stats.success} of ${stats.total} task(s) completed, ${stats.failed} failed, ${stats.skipped} skipped`
    : `${done} of ${total} task(s) ended`;
  return `Session ${s.id} (${s.jobName}) ended ${s.status} in ${humanDuration(s.duration)}: ${counts}.`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Without any event, the session is read again this often all the same (a safety net). */
const REFRESH_MS = 15_000;
/**
 * How long to wait for `session.ended` once the session reads as ended. The server writes that
 * event in the transaction that ends the session, after its last log entry, so a stream that is up
 * always brings it; this only bounds the wait on a stream that stopped carrying events without
 * dropping (the log is then read through the REST API). A busy server may take seconds to send
 * it, and reading the log again for nothing is what the wait avoids: the same bound as the
 * safety-net refresh.
 */
const END_GRACE_MS = REFRESH_MS;

type Snapshot = Awaited<ReturnType<typeof sessionProgress>>;

/** Shared by both ways of waiting: what is shown and printed, and what is answered. */
class Waiting {
  constructor(
    readonly api: Api,
    readonly io: Io,
    readonly sessionId: string,
    readonly o: WaitOptions,
    readonly view: View,
  ) {}

  show(p: Snapshot, elapsedMs = Number(p.session.duration ?? 0)): boolean {
    const live = isSessionLive(String(p.session.status));
    this.view.progress({ status: String(p.session.status), percent: live ? Number(p.session.percent ?? 0) : 100, done: p.done, total: p.total, elapsedMs });
    return live;
  }

  ended({ session, total, done }: Snapshot): WaitResult {
    const o = this.o;
    this.view.end();
    if (!o.logOnly && !o.quietEnd) {
      this.io.out.write(`${o.json ? JSON.stringify(session, null, o.follow ? undefined : 2) : sessionSummary(session, total, done)}\n`);
    }
    return { session, timedOut: false, exitCode: exitForStatus(String(session.status)) };
  }

  timedOut({ session, total, done }: Snapshot): WaitResult {
    const o = this.o;
    this.view.end();
    if (o.json && !o.logOnly && !o.quietEnd) this.io.out.write(`${JSON.stringify(session, null, o.follow ? undefined : 2)}\n`);
    this.io.err.write(`census: session ${this.sessionId} is still ${session.status} (${done}/${total} tasks) after ${Math.round((o.timeoutMs ?? 0) / 1000)} s; it goes on on the server.\n`);
    return { session, timedOut: true, exitCode: EXIT.TIMEOUT };
  }
}

export async function waitForSession(api: Api, io: Io, sessionId: string, o: WaitOptions): Promise<WaitResult> {
  const deadline = o.timeoutMs === undefined ? Infinity : io.now() + o.timeoutMs;
  const view: View = o.json ? new JsonView(io) : io.out.isTTY && !o.logOnly ? new TtyView(io) : new PlainView(io, !o.logOnly);
  const w = new Waiting(api, io, sessionId, o, view);

  const onSigint = () => {
    view.end();
    io.err.write(`census: stopped waiting; session ${sessionId} goes on on the server (\`census session show ${sessionId}\`).\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  try {
    // Log entries already printed, by id: the event stream and polling skip them alike.
    const seen = new Set<string>();
    if (!o.logSource && o.events !== false) {
      const result = await followEvents(w, deadline, seen);
      if (result) return result;
    }
    return await poll(w, deadline, o.follow ? (o.logSource ?? new PollingLogSource(api, sessionId, o.types, seen)) : undefined);
  } catch (err) {
    view.end();
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Waiting by polling the session (and the log, with follow) every second (250 ms with follow). */
async function poll(w: Waiting, deadline: number, logs: LogSource | undefined): Promise<WaitResult> {
  const { api, io, sessionId, o, view } = w;
  const interval = o.intervalMs ?? (o.follow ? 250 : 1000);
  try {
    for (;;) {
      if (logs) for (const e of await logs.take()) view.log(e);
      const p = await sessionProgress(api, sessionId);
      if (!w.show(p)) {
        // The summary entries are written with the session's end; pick up what is left.
        if (logs) for (const e of await logs.take()) view.log(e);
        return w.ended(p);
      }
      const left = deadline - io.now();
      if (left <= 0) return w.timedOut(p);
      await sleep(Math.min(interval, left));
    }
  } finally {
    logs?.close();
  }
}

/**
 * Waiting on the server's event stream, filtered to the session: log entries are printed as their
 * `log` events arrive, progress is read again when a `session.*` or `task.updated` event says it
 * moved, and `session.ended` (which comes after the session's last log entry) ends the wait.
 *
 * The stream starts from "now", so the log written before it opened is read once from the log
 * endpoint, after the stream is open; entries in both are printed once (by id). Answers undefined
 * when the stream cannot be used (no such route, refused, a `reset`, or lost for good): the caller
 * then polls, skipping what was printed here.
 */
async function followEvents(w: Waiting, deadline: number, seen: Set<string>): Promise<WaitResult | undefined> {
  const { api, io, sessionId, o, view } = w;
  let stream: EventStream;
  try {
    stream = await EventStream.open(api, { query: { sessionId, types: o.follow ? 'session,task,log' : 'session,task' } });
  } catch (err) {
    // A server without the stream (404) is no news; anything else is worth a word.
    if (!(err instanceof ApiError && err.status === 404)) io.err.write(`census: cannot open the event stream (${(err as Error).message}); polling instead.\n`);
    return undefined;
  }
  try {
    const logs = o.follow ? new PollingLogSource(api, sessionId, o.types, seen) : undefined;
    const wanted = o.types?.length ? new Set(o.types.map((t) => t.toUpperCase())) : undefined;
    if (logs) for (const e of await logs.take()) view.log(e);
    let p = await sessionProgress(api, sessionId);
    let readAt = io.now();
    if (!w.show(p)) {
      if (logs) for (const e of await logs.take()) view.log(e);
      return w.ended(p);
    }
    // A terminal's bar shows the elapsed time: redraw it every second without asking the server.
    const tick = io.out.isTTY && !o.logOnly && !o.json ? (o.intervalMs ?? 1000) : REFRESH_MS;
    let moved = false;
    let endedEvent = false;
    /** When the session was read as ended before its session.ended event arrived. */
    let endedAt: number | undefined;
    const finish = async () => {
      // Without session.ended the stream may not have brought the last entries yet: read them.
      if (logs && !endedEvent) for (const e of await logs.take()) view.log(e);
      return w.ended(p);
    };
    const refresh = async () => {
      p = await sessionProgress(api, sessionId);
      readAt = io.now();
      moved = false;
      return w.show(p);
    };
    for (;;) {
      const now = io.now();
      if (endedAt !== undefined && now - endedAt >= END_GRACE_MS) return await finish();
      const left = deadline - now;
      if (left <= 0) return (await refresh()) ? w.timedOut(p) : await finish();
      const item = await stream.next(Math.min(left, tick, endedAt === undefined ? Infinity : endedAt + END_GRACE_MS - now));
      if (item === 'failed') {
        io.err.write(`census: ${stream.failure ?? 'the event stream ended'}; polling instead.\n`);
        return undefined;
      }
      if (item === 'timeout') {
        if (io.now() - readAt >= REFRESH_MS) moved = true;
        else if (tick < REFRESH_MS && isSessionLive(String(p.session.status))) w.show(p, Number(p.session.duration ?? 0) + io.now() - readAt);
      } else if (item.type === 'resync') {
        // Opened again without an id to resume after: read what the gap may hold.
        if (logs) for (const e of await logs.take()) view.log(e);
        moved = true;
      } else if (item.type === 'reset') {
        io.err.write('census: the event stream was reset (events were missed); polling instead.\n');
        return undefined;
      } else if (item.type === 'log') {
        const e = item.data as LogEntry;
        const id = String(e?.id ?? '');
        if (logs && id && !seen.has(id) && (!wanted || wanted.has(String(e.type).toUpperCase()))) {
          seen.add(id);
          view.log(e);
        }
      } else if (item.type.startsWith('session.') || item.type === 'task.updated') {
        moved = true;
        if (item.type === 'session.ended') endedEvent = true;
      }
      // Read the progress once a burst of events has been taken, not for each of them.
      if (moved && !stream.pending) {
        if (!(await refresh())) {
          if (endedEvent) return await finish();
          endedAt ??= io.now();
        }
      }
    }
  } finally {
    stream.close();
  }
}
