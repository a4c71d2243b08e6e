/**
 * One application server's inventory inside a session: resolve its credentials, call the
 * collector for its applicationType under a deadline, and retry what can be retried. It returns
 * how the task ended together with what it found and its last log entries, which the engine
 * commits in the same transaction as the task's end (TaskOutcome.commit).
 */
import { CollectorError, type Collector, type CollectResult, type CollectTarget, type PreviousInventory } from '../../collectors/types.ts';
import type { TlsMode } from '../../core/tls-mode.ts';
import type { AppServer } from '../../core/types.ts';
import { describeChanges } from '../../core/inventory-diff.ts';
import type { SecretBox } from '../../core/secret-box.ts';
import { onInventoryRecorded } from '../alerts.ts';
import { openCredentials } from '../credentials.ts';
import { message, type Message, type MessageId } from '../messages.ts';
import type { Prepared, TaskOutcome, TaskRun, TaskToPrepare } from './types.ts';

/** The log messages of one server's task: application servers' and hypervisors' say what the server is. */
export interface TaskMessages {
  start: MessageId; complete: MessageId; failed: MessageId; retry: MessageId; warning: MessageId;
  cancelled: MessageId; gone: MessageId; readiness: MessageId; changes: MessageId;
}
export const APPSERVER_MESSAGES: TaskMessages = {
  start: 'CNSI0100', complete: 'CNSI0101', failed: 'CNSI0102', retry: 'CNSI0103', warning: 'CNSI0104',
  cancelled: 'CNSI0105', gone: 'CNSI0106', readiness: 'CNSI0107', changes: 'CNSI0108',
};
export const HYPERVISOR_MESSAGES: TaskMessages = {
  start: 'CNSI0110', complete: 'CNSI0111', failed: 'CNSI0112', retry: 'CNSI0113', warning: 'CNSI0114',
  cancelled: 'CNSI0115', gone: 'CNSI0116', readiness: 'CNSI0117', changes: 'CNSI0118',
};

export interface InventorySettings {
  secrets: SecretBox;
  collectors: ReadonlyMap<string, Collector>;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  /** What a session's tasks may share (serverInventory gives each job type its own). */
  shares?: SessionShares;
}

/** What prepare found: the server to collect from, or why the task fails without trying (and its log entry). */
type Ready =
  | { failed: { errorCode: string; reason: string; entry: Message } }
  | { server: AppServer; collector: Collector; credentials: Credentials; where: string };
type Credentials = Pick<CollectTarget, 'username' | 'password' | 'privateKey' | 'passphrase'>;

/**
 * Reads the server, its collector and its credentials before the task is claimed, and words
 * the first attempt's start entry, which the engine writes with the claim.
 */
export async function prepareInventoryTask(d: InventorySettings, t: TaskToPrepare, m: TaskMessages = APPSERVER_MESSAGES): Promise<Prepared> {
  const ready = await readyToCollect(d, t, m);
  return 'failed' in ready ? { state: ready } : { start: startEntry(m, ready, 1), state: ready };
}

async function readyToCollect(d: InventorySettings, t: TaskToPrepare, m: TaskMessages): Promise<Ready> {
  const { task } = t;
  const found = task.targetKind !== 'appserver' || task.targetId === null ? undefined : await t.store.appservers.withIdentity(Number(task.targetId));
  if (!found) {
    const reason = m === HYPERVISOR_MESSAGES ? 'hypervisor no longer exists' : 'application server no longer exists';
    return { failed: { errorCode: 'NOT_FOUND', reason, entry: message('WARN', m.gone, task.name) } };
  }
  const { server } = found;
  const fail = (errorCode: string, reason: string): Ready => ({ failed: { errorCode, reason, entry: message('ERROR', m.failed, server.name, reason) } });
  const collector = d.collectors.get(server.applicationType);
  if (!collector) return fail('UNSUPPORTED', `Census cannot inventory application type "${server.applicationType}" yet.`);
  const { identity } = found;
  if (!identity) return fail('NO_CREDENTIALS', `no identity is attached to ${server.name}; register it with osuser or username/password.`);
  let credentials: Credentials;
  try {
    credentials = openCredentials(identity, d.secrets);
  } catch {
    return fail('SECRET', `the stored secret of identity "${identity.name}" cannot be decrypted with this server's key.`);
  }
  const where = `${server.hostAddress}${server.portNumber ? `:${server.portNumber}` : ''}`;
  return { server, collector, credentials, where };
}

function startEntry(m: TaskMessages, ready: { server: AppServer; where: string }, attempt: number): Message {
  return message('INFO', m.start, ready.server.name, ready.server.applicationType, ready.where, attempt);
}

/**
 * What the tasks of one session share (CollectOptions.shared, and the alert settings they use),
 * for the last few sessions this process ran tasks of: older ones are forgotten, so it never
 * grows with the history.
 */
export class SessionShares {
  private readonly bySession = new Map<number, Map<string, unknown>>();

  constructor(private readonly kept = 4) {}

  of(sessionId: number): Map<string, unknown> {
    let shared = this.bySession.get(sessionId);
    if (!shared) {
      shared = new Map();
      this.bySession.set(sessionId, shared);
      if (this.bySession.size > this.kept) this.bySession.delete(this.bySession.keys().next().value!);
    }
    return shared;
  }
}

export async function runInventoryTask(d: InventorySettings, t: TaskRun, m: TaskMessages = APPSERVER_MESSAGES): Promise<TaskOutcome> {
  // Run without prepare() (not claimed through the engine): prepare now, and write the start entry here.
  const prepared = t.prepared === undefined ? await prepareInventoryTask(d, t, m) : undefined;
  if (prepared?.start) await t.log(t.store, prepared.start);
  const ready = (t.prepared ?? prepared!.state) as Ready;
  const fail = (errorCode: string, reason: string, entry: Message): TaskOutcome => ({
    status: 'FAILED', errorCode, message: reason, commit: (r) => t.log(r, entry),
  });
  if ('failed' in ready) return fail(ready.failed.errorCode, ready.failed.reason, ready.failed.entry);
  const { server, collector, credentials } = ready;
  const { signal } = t;
  const sessionId = t.session.id;
  const shared = d.shares?.of(sessionId);
  // What the last run recorded: the collector reads again only what its change signals say may
  // have changed (docs/inventory.md, incremental inventory), and recording diffs against the same
  // read. Read after the claim, not in prepare: a task waiting for a slot should not hold it; and
  // while the collector logs in, not before. A store that fails this read fails the task below
  // (as an internal error, not the server's); the collector then just reads everything.
  const storedRead = t.store.inventory.stored(server.id);
  const previous = storedRead.then((s) => s.previous(), () => undefined);

  // The deadline covers the whole task, retries included: a host that never answers fails at it.
  const deadline = Date.now() + d.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) break;
    // The first attempt's entry was written with the claim (or just above).
    if (attempt > 1) await t.log(t.store, startEntry(m, ready, attempt));
    let result: CollectResult;
    try {
      result = await collectWithDeadline(collector, {
        name: server.name, host: server.hostAddress, port: server.portNumber, tls: server.tlsMode as TlsMode, ...credentials,
        ...(server.uri ? { uri: server.uri } : {}),
      }, signal, Math.max(1, deadline - Date.now()), { previous, shared });
    } catch (err) {
      if (signal.aborted) break;
      const e = err instanceof CollectorError ? err : new CollectorError('UNKNOWN', `${server.name}: ${(err as Error).message}`);
      const delay = d.retryDelayMs * 2 ** (attempt - 1);
      if (e.retryable && attempt <= d.retries && Date.now() + delay < deadline) {
        await t.log(t.store, message('WARN', m.retry, server.name, e.message, delay));
        if (!(await pause(delay, signal))) break;
        continue;
      }
      return fail(e.code, e.message, message('ERROR', m.failed, server.name, e.message));
    }
    const stored = await storedRead;
    return {
      status: 'COMPLETED',
      commit: async (r) => {
        const now = t.clock.now();
        const changes = await r.inventory.record(
          { appserverId: server.id, applicationType: server.applicationType, childType: collector.info.childTypes[0] ?? 'database', sessionId, now },
          result.instances,
          stored,
        );
        // The inventory.changed notification and the watched-change alerts commit with what was found.
        await onInventoryRecorded(r, {
          appserver: { id: server.id, name: server.name, type: server.applicationType }, session: t.session, changes, now, shared,
          findings: result.instances.flatMap((i) => (i.findings ?? []).map((f) => ({ instance: i.name, ...f }))),
        });
        for (const w of result.warnings) await t.log(r, message('WARN', m.warning, server.name, w));
        for (const f of result.instances.flatMap((i) => i.findings ?? [])) {
          await t.log(r, message('WARN', m.readiness, server.name, f.database ? `${f.database}: ${f.message}` : f.message, f.code));
        }
        const dbs = result.instances.reduce((n, i) => n + i.databases.length, 0);
        const versions = [...new Set(result.instances.map((i) => i.version ?? 'unknown'))].join(', ');
        await t.log(r, message('INFO', m.complete, server.name, result.instances.length, dbs, versions || 'unknown'));
        await t.log(r, message('INFO', m.changes, server.name, describeChanges(changes)));
      },
    };
  }
  return { status: 'CANCELLED', errorCode: 'CANCELLED', commit: (r) => t.log(r, message('WARN', m.cancelled, server.name)) };
}

/**
 * Calls the collector and, should it ever ignore its own deadline, stops waiting for it a little
 * after: one stuck server never holds up the session.
 */
async function collectWithDeadline(
  collector: Collector,
  target: Parameters<Collector['collect']>[0],
  signal: AbortSignal,
  timeoutMs: number,
  carried: { previous: Promise<PreviousInventory | undefined>; shared: Map<string, unknown> | undefined },
): Promise<CollectResult> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  // An abort that came while we were still getting ready fires no event: pass it on now.
  if (signal.aborted) controller.abort();
  let timer: NodeJS.Timeout | undefined;
  const backstop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new CollectorError('TIMEOUT', `${target.name} (${target.host}) did not answer within ${Math.round(timeoutMs / 1000)} s.`));
    }, timeoutMs + 2_000);
  });
  try {
    return await Promise.race([collector.collect(target, {
      signal: controller.signal, timeoutMs,
      previous: carried.previous,
      ...(carried.shared ? { shared: carried.shared } : {}),
    }), backstop]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** Waits `ms`, or less if aborted; says whether the wait ran its course. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
