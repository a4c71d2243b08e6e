/**
 * Waiting for a job session to end (`job run --wait`, `job status --wait`, `session log --follow`):
 * polls the session and its task counts, shows progress (a bar on a terminal, plain lines when
 * something changes otherwise), prints log entries as they arrive with `--follow`, and stops at
 * `--timeout`.
 */
import { ENDED_TASK_STATUSES, isSessionLive } from '../../core/status.ts';
import { EXIT, exitForStatus } from './errors.ts';
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
  /** Poll interval in ms (default 1000, or 250 with follow). */
  intervalMs?: number;
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
  const stats = Array.isArray(s?.properties?.statistics) ? s.properties.statistics.find((x: Json) => x?.resourceType === 'appserver') : undefined;
  const counts = stats
    ? `${stats.success} of ${stats.total} task(s) completed, ${stats.failed} failed, ${stats.skipped} skipped`
    : `${done} of ${total} task(s) ended`;
  return `Session ${s.id} (${s.jobName}) ended ${s.status} in ${humanDuration(s.duration)}: ${counts}.`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitForSession(api: Api, io: Io, sessionId: string, o: WaitOptions): Promise<WaitResult> {
  const interval = o.intervalMs ?? (o.follow ? 250 : 1000);
  const deadline = o.timeoutMs === undefined ? Infinity : io.now() + o.timeoutMs;
  const logs = o.follow ? (o.logSource ?? new PollingLogSource(api, sessionId, o.types)) : undefined;
  const view: View = o.json ? new JsonView(io) : io.out.isTTY && !o.logOnly ? new TtyView(io) : new PlainView(io, !o.logOnly);

  const onSigint = () => {
    view.end();
    io.err.write(`census: stopped waiting; session ${sessionId} goes on on the server (\`census session show ${sessionId}\`).\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      if (logs) for (const e of await logs.take()) view.log(e);
      const { session, total, done } = await sessionProgress(api, sessionId);
      const live = isSessionLive(String(session.status));
      view.progress({ status: String(session.status), percent: live ? Number(session.percent ?? 0) : 100, done, total, elapsedMs: Number(session.duration ?? 0) });
      if (!live) {
        // The summary entries are written with the session's end; pick up what is left.
        if (logs) for (const e of await logs.take()) view.log(e);
        view.end();
        if (!o.logOnly && !o.quietEnd) {
          io.out.write(`${o.json ? JSON.stringify(session, null, o.follow ? undefined : 2) : sessionSummary(session, total, done)}\n`);
        }
        return { session, timedOut: false, exitCode: exitForStatus(String(session.status)) };
      }
      const left = deadline - io.now();
      if (left <= 0) {
        view.end();
        if (o.json && !o.logOnly && !o.quietEnd) io.out.write(`${JSON.stringify(session, null, o.follow ? undefined : 2)}\n`);
        io.err.write(`census: session ${sessionId} is still ${session.status} (${done}/${total} tasks) after ${Math.round((o.timeoutMs ?? 0) / 1000)} s; it goes on on the server.\n`);
        return { session, timedOut: true, exitCode: EXIT.TIMEOUT };
      }
      await sleep(Math.min(interval, left));
    }
  } catch (err) {
    view.end();
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    logs?.close();
  }
}
