/** `census session list|show|log`. */
import { isSessionLive, LOG_TYPES } from '../../../core/status.ts';
import { flag, idArg, intOption, str, type Command, type Ctx } from '../command.ts';
import { UsageError } from '../errors.ts';
import { fields, humanDuration, humanTime, logLine, table } from '../format.ts';
import type { Json } from '../http.ts';
import { waitForSession } from '../wait.ts';

const statusCell = (s: Json) => (isSessionLive(String(s.status)) ? `${s.status} ${s.percent ?? 0}%` : String(s.status ?? '-'));

export const sessionList: Command = {
  words: ['session', 'list'],
  synopsis: '[--job ID] [--status S] [--limit N]',
  summary: 'list job sessions, newest first',
  help: `  --job ID      only sessions of this job
  --status S    only sessions with this status: RUNNING, CANCELLING, COMPLETED, PARTIAL, FAILED,
                CANCELLED, or live / history; several separated by commas
  --limit N     at most N sessions (default 20)`,
  options: { job: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' } },
  async run(ctx) {
    const criteria: object[] = [];
    const job = str(ctx, 'job');
    if (job !== undefined) {
      if (!/^\d+$/.test(job)) throw new UsageError('--job must be a job id (a number)', ctx.usage);
      criteria.push({ property: 'jobId', value: job, op: '=' });
    }
    const status = str(ctx, 'status');
    if (status !== undefined) {
      const values = status.split(',').map((v) => v.trim()).filter(Boolean);
      if (!values.length) throw new UsageError('--status needs a value', ctx.usage);
      criteria.push({ property: 'status', op: 'IN', value: values });
    }
    const limit = intOption(ctx, 'limit', 1, 100_000) ?? 20;
    const sessions = await ctx.api().list('/api/endeavour/jobsession', 'sessions', {
      ...(criteria.length ? { filter: JSON.stringify(criteria) } : {}),
      sort: JSON.stringify([{ property: 'start', direction: 'DESC' }]),
    }, limit);
    if (ctx.json) return ctx.printJson(sessions);
    if (!sessions.length) return ctx.print('No job sessions.');
    ctx.print(table(
      ['id', 'job', 'status', 'start', 'duration', { title: 'tasks', align: 'right' }, 'trigger'],
      sessions.map((s: Json) => [s.id, s.jobName, statusCell(s), humanTime(s.start), humanDuration(s.duration), s.numTasks, s.properties?.trigger]),
    ));
  },
};

async function sessionTasks(ctx: Ctx, id: string): Promise<Json[]> {
  return ctx.api().list(`/api/endeavour/jobsession/${id}/task`, 'tasks');
}

export const sessionShow: Command = {
  words: ['session', 'show'],
  synopsis: 'ID',
  summary: 'show a job session and its tasks',
  help: '  --json        the session object as the API gives it, with its tasks added as "tasks"',
  args: ['ID'],
  async run(ctx) {
    const id = idArg(ctx, 0, 'ID');
    const session = await ctx.api().get(`/api/endeavour/jobsession/${id}`);
    const tasks = await sessionTasks(ctx, id);
    if (ctx.json) return ctx.printJson({ ...session, tasks });
    const stats = Array.isArray(session.properties?.statistics) ? session.properties.statistics.find((x: Json) => x?.resourceType === 'appserver') : undefined;
    const servers = (session.policySnapshot?.spec?.source ?? []).map((x: Json) => x?.name).filter(Boolean);
    ctx.print(`Session ${session.id}  ${session.jobName} (job ${session.jobId})`, fields([
      ['status', statusCell(session)],
      ['started', humanTime(session.start)],
      ['ended', humanTime(session.end)],
      ['duration', humanDuration(session.duration)],
      ['trigger', session.properties?.trigger],
      ['servers', servers.length ? servers.join(', ') : '-'],
      ['tasks', stats ? `${stats.total} (${stats.success} completed, ${stats.failed} failed, ${stats.skipped} skipped)` : session.numTasks],
    ]));
    if (tasks.length) {
      ctx.print('', table(
        [{ title: 'task', align: 'right' }, 'name', 'status', 'start', 'duration', { title: 'attempts', align: 'right' }, 'message'],
        tasks.map((t: Json) => [t.id, t.name, t.status, humanTime(t.start), humanDuration(t.duration), t.attempts, t.message ?? '']),
      ));
    }
  },
};

function logTypes(ctx: Ctx): string[] | undefined {
  const raw = str(ctx, 'type');
  if (raw === undefined) return undefined;
  const types = raw.split(',').map((t) => t.trim().toUpperCase()).filter(Boolean);
  const bad = types.filter((t) => !(LOG_TYPES as readonly string[]).includes(t));
  if (!types.length || bad.length) throw new UsageError(`--type takes ${LOG_TYPES.join(', ')} (several separated by commas)`, ctx.usage);
  return types;
}

export const sessionLog: Command = {
  words: ['session', 'log'],
  synopsis: 'ID [--type INFO,WARN,ERROR,SUMMARY] [--follow]',
  summary: "print a job session's log; --follow keeps printing until the session ends",
  help: `  --type T,…    only entries of these types (${LOG_TYPES.join(', ')})
  --follow      keep printing entries as they are written, until the session ends
  --json        a JSON array of the log entries (with --follow: one JSON object per line)`,
  args: ['ID'],
  options: { type: { type: 'string' }, follow: { type: 'boolean' } },
  async run(ctx) {
    const id = idArg(ctx, 0, 'ID');
    const types = logTypes(ctx);
    if (flag(ctx, 'follow')) {
      await waitForSession(ctx.api(), ctx.io, id, { follow: true, json: ctx.json, logOnly: true, types });
      return;
    }
    // A 404 for an unknown session, rather than an empty log.
    await ctx.api().get(`/api/endeavour/jobsession/${id}`);
    const criteria: object[] = [{ property: 'jobsessionId', value: id, op: '=' }];
    if (types) criteria.push({ property: 'type', op: 'IN', value: types });
    const entries = await ctx.api().list('/api/endeavour/log/job', 'logs', {
      filter: JSON.stringify(criteria),
      sort: JSON.stringify([{ property: 'logTime', direction: 'ASC' }]),
    });
    if (ctx.json) return ctx.printJson(entries);
    if (!entries.length) return ctx.print('No log entries.');
    ctx.print(...entries.map(logLine));
  },
};
