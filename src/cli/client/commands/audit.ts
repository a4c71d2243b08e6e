/**
 * `census audit`: the audit log (GET /api/endeavour/log/audit) as a table of the latest entries,
 * or its CSV download (…/download/csv) into a file. The options become the API's SPP filter.
 * `--user` here picks entries; the login comes from `census login` or CENSUS_USER/CENSUS_PASSWORD.
 */
import { writeFileSync } from 'node:fs';
import { choice, intOption, str, type Command, type Ctx } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
import { humanTime, table } from '../format.ts';
import type { Json } from '../http.ts';

const AUDIT = '/api/endeavour/log/audit';
const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `--since`/`--until`: `30m`, `2h`, `7d`, `1w` ago, or an ISO 8601 date or time; epoch milliseconds. */
export function timeOption(ctx: Ctx, name: string, now: number): number | undefined {
  const v = str(ctx, name)?.trim();
  if (v === undefined) return undefined;
  const ago = /^(\d{1,6})\s*([mhdw])$/i.exec(v);
  if (ago) return now - Number(ago[1]) * UNITS[ago[2]!.toLowerCase()]!;
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new UsageError(`--${name} must be a time ago (30m, 2h, 7d, 1w) or an ISO 8601 date or time (2026-05-01, 2026-05-01T12:00)`, ctx.usage);
  return t;
}

/** The SPP filter the options ask for. */
function criteria(ctx: Ctx): object[] {
  const out: object[] = [];
  const user = str(ctx, 'user');
  if (user !== undefined) out.push({ property: 'user', value: user, op: '=' });
  const action = str(ctx, 'action');
  if (action !== undefined) {
    const actions = action.split(',').map((a) => a.trim()).filter(Boolean);
    if (!actions.length) throw new UsageError('--action needs a value', ctx.usage);
    // One value with `=`, which takes SPP's * wildcard (user.*); several as IN (exact names).
    out.push(actions.length === 1 ? { property: 'action', value: actions[0], op: '=' } : { property: 'action', value: actions, op: 'IN' });
  }
  const outcome = choice(ctx, 'outcome', ['success', 'failure'] as const);
  if (outcome !== undefined) out.push({ property: 'outcome', value: outcome, op: '=' });
  const now = ctx.io.now();
  const since = timeOption(ctx, 'since', now);
  const until = timeOption(ctx, 'until', now);
  if (since !== undefined && until !== undefined && since > until) throw new UsageError('--since is after --until', ctx.usage);
  if (since !== undefined) out.push({ property: 'accessTime', value: since, op: '>=' });
  if (until !== undefined) out.push({ property: 'accessTime', value: until, op: '<=' });
  return out;
}

const target = (e: Json) => (e.targetType ? `${e.targetType} ${e.target ?? e.targetId ?? ''}`.trim() : '');

export const audit: Command = {
  words: ['audit'],
  synopsis: '[--user U] [--action A] [--outcome O] [--since T] [--until T] [--limit N] [--csv FILE]',
  summary: 'show the audit log: who did what, from where, and how it ended (needs log.view)',
  help: `  --user U       only entries of this user name (the login comes from census login or
                 CENSUS_USER/CENSUS_PASSWORD: here --user picks entries)
  --action A     only this action (login, user.update, apikey.create, …; * is a wildcard:
                 user.*), or several exact names separated by commas (login,logout)
  --outcome O    success or failure
  --since T      from this time: 30m, 2h, 7d or 1w ago, or an ISO 8601 date or time
  --until T      up to this time (same forms)
  --limit N      the latest N entries (default 50; with --csv: every match unless given)
  --csv FILE     save the matching entries as CSV (the server's download) to FILE; - for stdout
  --json         one JSON array of the entries as the API gives them`,
  options: { action: { type: 'string' }, outcome: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' }, csv: { type: 'string' } },
  // --user filters entries; --password has nothing to go with, so it is refused rather than ignored.
  ownCredentials: true,
  async run(ctx) {
    if (str(ctx, 'password') !== undefined) {
      throw new UsageError('census audit takes no --password: log in with census login or CENSUS_USER/CENSUS_PASSWORD (--user here picks entries)', ctx.usage);
    }
    const filter = criteria(ctx);
    const limit = intOption(ctx, 'limit', 1, 100_000);
    const csv = str(ctx, 'csv');
    const query = { ...(filter.length ? { filter: JSON.stringify(filter) } : {}) };
    if (csv !== undefined) {
      if (csv === '') throw new UsageError('--csv needs a file name (or - for stdout)', ctx.usage);
      // The latest N by time, oldest first in the file as the log reads; without --limit, everything.
      const r = await ctx.api().request('GET', `${AUDIT}/download/csv`, {
        query: { ...query, sort: JSON.stringify([{ property: 'accessTime', direction: limit === undefined ? 'ASC' : 'DESC' }]), ...(limit !== undefined ? { pageSize: limit } : {}) },
      });
      const text = limit === undefined ? r.text : reverseCsv(r.text);
      if (csv === '-') return void ctx.io.out.write(text);
      try {
        writeFileSync(csv, text, { mode: 0o600 });
      } catch (err) {
        throw new CliError(`cannot write ${csv}: ${(err as Error).message}`);
      }
      const rows = text.split(/\r\n/).filter(Boolean).length - 1;
      ctx.io.err.write(`census: saved ${rows} audit entr${rows === 1 ? 'y' : 'ies'} to ${csv}\n`);
      return;
    }
    const latest = await ctx.api().list(AUDIT, 'logs', { ...query, sort: JSON.stringify([{ property: 'accessTime', direction: 'DESC' }]) }, limit ?? 50);
    const entries = latest.reverse();
    if (ctx.json) return ctx.printJson(entries);
    if (!entries.length) return ctx.print('No audit entries.');
    ctx.print(table(
      ['time', 'user', 'from', 'action', 'target', 'outcome', 'detail'],
      entries.map((e: Json) => [humanTime(e.accessTime), e.user, e.userIp, e.action, target(e), e.outcome, typeof e.detail?.code === 'string' ? e.detail.code : '']),
    ));
  },
};

/**
 * The server's CSV with its data rows in the other order (the header stays first). Its rows are
 * one line each unless a cell holds a line break, which it quotes: split on CRLF outside quotes.
 */
function reverseCsv(text: string): string {
  const rows: string[] = [];
  let row = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === '\r' && text[i + 1] === '\n') {
      rows.push(row);
      row = '';
      i++;
      continue;
    }
    row += ch;
  }
  if (row) rows.push(row);
  const [header, ...data] = rows;
  return header === undefined ? text : `${[header, ...data.reverse()].join('\r\n')}\r\n`;
}
