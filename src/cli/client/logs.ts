/**
 * Where `--follow` gets a session's log entries from when it polls. waitForSession (wait.ts)
 * follows the server's live event stream when it can, and polls through a LogSource only when the
 * server has no stream or it was lost; the two share the set of entries already printed, so a
 * switch from one to the other repeats nothing.
 */
import type { Api, Json } from './http.ts';

export interface LogEntry {
  id: string;
  type: string;
  logTime: number;
  message: string;
  messageId?: string;
  jobsessionId?: number;
  [key: string]: unknown;
}

export interface LogSource {
  /** Entries written since the last call, oldest first, each exactly once. */
  take(): Promise<LogEntry[]>;
  /** Stops whatever the source runs in the background (a stream, a timer). */
  close(): void;
}

/** Entries re-read before the last position, so ties in logTime that land late are not missed. */
const OVERLAP = 50;

/**
 * Polls the session's log sorted by logTime, starting each time a little before the position
 * already printed (`pageStartIndex`), and drops entries it has seen by id: entries with the same
 * logTime may come back in another order, and one written late may sort before the position.
 */
export class PollingLogSource implements LogSource {
  private consumed = 0;
  private filter: string;

  constructor(
    private api: Api,
    sessionId: string,
    types?: string[],
    /** Ids of the entries already printed (and to skip); filled with those this source returns. */
    readonly seen = new Set<string>(),
  ) {
    const criteria: object[] = [{ property: 'jobsessionId', value: sessionId, op: '=' }];
    if (types?.length) criteria.push({ property: 'type', op: 'IN', value: types });
    this.filter = JSON.stringify(criteria);
  }

  async take(): Promise<LogEntry[]> {
    const start = Math.max(0, this.consumed - OVERLAP);
    const rows: Json[] = await this.api.list('/api/endeavour/log/job', 'logs', {
      filter: this.filter,
      sort: JSON.stringify([{ property: 'logTime', direction: 'ASC' }]),
      pageStartIndex: start,
    });
    this.consumed = start + rows.length;
    const fresh: LogEntry[] = [];
    for (const r of rows) {
      const id = String(r?.id ?? '');
      if (!id || this.seen.has(id)) continue;
      this.seen.add(id);
      fresh.push(r as LogEntry);
    }
    return fresh;
  }

  close(): void {}
}
