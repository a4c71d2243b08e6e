/** `census job list|status|run|cancel`. */
import { flag, idArg, timeoutOption, type Command, type Ctx } from '../command.ts';
import { EXIT, exitForStatus } from '../errors.ts';
import { fields, humanDuration, humanTime, table } from '../format.ts';
import type { Json } from '../http.ts';
import { waitForSession } from '../wait.ts';

const WAIT_HELP = `  --wait        wait for the session to end, showing progress (a bar on a terminal, a plain
                line whenever something changes otherwise); the exit code tells the result
  --follow      print the session's log entries as they are written (implies --wait)
  --timeout S   stop waiting after S seconds (implies --wait); exit 6 if it is still running`;

const WAIT_OPTIONS = { wait: { type: 'boolean' }, follow: { type: 'boolean' }, timeout: { type: 'string' } } as const;

function running(job: Json): boolean {
  return job?.status === 'RUNNING';
}

function statusCell(job: Json): string {
  return running(job) && job.lastrun ? `RUNNING ${job.lastrun.percent ?? 0}%` : String(job.status ?? '-');
}

export const jobList: Command = {
  words: ['job', 'list'],
  synopsis: '',
  summary: 'list the jobs with their state, last result and next run',
  async run(ctx) {
    const jobs = await ctx.api().list('/api/endeavour/job', 'jobs');
    if (ctx.json) return ctx.printJson(jobs);
    ctx.print(table(['id', 'name', 'status', 'last result', 'last run', 'duration', 'next run'], jobs.map((j: Json) => [
      j.id, j.name, statusCell(j), j.lastSessionStatus, humanTime(j.lastRunTime),
      humanDuration(running(j) ? j.lastrun?.duration : j.lastSessionDuration), humanTime(j.nextFireTime),
    ])));
  },
};

function describeJob(ctx: Ctx, job: Json): void {
  const lr = job.lastrun;
  const pairs: [string, string | number | null | undefined][] = [['status', job.status]];
  if (running(job) && lr) {
    pairs.push(['running session', `${lr.sessionId} (${lr.percent ?? 0}%, ${lr.numTasks ?? 0} task(s), running for ${humanDuration(lr.duration)})`]);
  } else if (lr) {
    pairs.push(['last session', `${lr.sessionId} (${lr.status})`]);
  }
  pairs.push(
    ['last result', job.lastSessionStatus],
    ['last run', humanTime(job.lastRunTime)],
    ['last duration', humanDuration(job.lastSessionDuration)],
    ['next run', humanTime(job.nextFireTime)],
    // Census's missed-run policy (docs/scheduling.md); absent from an SPP server's answer.
    ['missed run', job.missedRun],
  );
  ctx.print(`Job ${job.id}  ${job.name}`, fields(pairs));
}

/** Waits for the job's running session (if any) and answers the exit code of its result. */
async function waitForJob(ctx: Ctx, job: Json, quietEnd = false): Promise<number> {
  const follow = flag(ctx, 'follow');
  const timeoutMs = timeoutOption(ctx);
  const sessionId = job.lastrun?.sessionId;
  if (!sessionId) {
    if (!ctx.json) ctx.print('The job has not run yet.');
    return EXIT.OK;
  }
  const result = await waitForSession(ctx.api(), ctx.io, String(sessionId), { follow, timeoutMs, json: ctx.json, quietEnd });
  return result.exitCode;
}

/** --follow and --timeout imply --wait. */
const wantsWait = (ctx: Parameters<Command['run']>[0]) => flag(ctx, 'wait') || flag(ctx, 'follow') || timeoutOption(ctx) !== undefined;

export const jobStatus: Command = {
  words: ['job', 'status'],
  synopsis: 'ID [--wait] [--follow] [--timeout S]',
  summary: 'show a job; with --wait, wait for its running session and exit with its result',
  help: WAIT_HELP,
  args: ['ID'],
  options: WAIT_OPTIONS,
  async run(ctx) {
    const id = idArg(ctx, 0, 'ID');
    const wait = wantsWait(ctx);
    const job = await ctx.api().get(`/api/endeavour/job/${id}`);
    if (!wait) {
      if (ctx.json) return ctx.printJson(job);
      return describeJob(ctx, job);
    }
    if (!running(job)) {
      if (ctx.json) ctx.printJson(job);
      else describeJob(ctx, job);
      return job.lastSessionStatus ? exitForStatus(String(job.lastSessionStatus)) : EXIT.OK;
    }
    if (!ctx.json) describeJob(ctx, job);
    const code = await waitForJob(ctx, job, ctx.json);
    // --json: the job as it is now (after the wait), like `job status ID --json`.
    if (ctx.json) ctx.printJson(await ctx.api().get(`/api/endeavour/job/${id}`));
    return code;
  },
};

export const jobRun: Command = {
  words: ['job', 'run'],
  synopsis: 'ID [--wait] [--follow] [--timeout S]',
  summary: 'start a job (POST …/job/ID?action=start); with --wait, wait and exit with its result',
  help: WAIT_HELP,
  args: ['ID'],
  options: WAIT_OPTIONS,
  async run(ctx) {
    const id = idArg(ctx, 0, 'ID');
    const wait = wantsWait(ctx);
    const job = await ctx.api().post(`/api/endeavour/job/${id}`, undefined, { action: 'start' });
    const sessionId = job?.lastrun?.sessionId;
    if (!wait) {
      if (ctx.json) return ctx.printJson(job);
      ctx.print(`Started ${job.name} (job ${job.id}) as session ${sessionId}.`, `Watch it with: census job status ${job.id} --wait`);
      return;
    }
    if (!ctx.json) ctx.print(`${job.name} (job ${job.id}) is running as session ${sessionId}.`);
    return waitForJob(ctx, job);
  },
};

export const jobCancel: Command = {
  words: ['job', 'cancel'],
  synopsis: 'ID',
  summary: 'cancel the running session of a job',
  args: ['ID'],
  async run(ctx) {
    const id = idArg(ctx, 0, 'ID');
    const api = ctx.api();
    const before = await api.get(`/api/endeavour/job/${id}`);
    const job = await api.post(`/api/endeavour/job/${id}`, undefined, { action: 'cancel' });
    if (ctx.json) return ctx.printJson(job);
    if (!running(before)) {
      ctx.print(`${job.name} (job ${job.id}) is not running; nothing to cancel.`);
      return;
    }
    ctx.print(`Cancel requested for session ${before.lastrun?.sessionId} of ${job.name} (job ${job.id}); it is ${job.lastrun?.status ?? job.status} now.`);
  },
};
