/**
 * File-system collector: a Linux host reached over SSH (password or private key) is one instance,
 * and each real file system mounted on it is one "database" (its mount point is the name). It
 * runs a single read-only shell command that needs no root: uname, os-release, the mount table
 * and df. Host keys are not verified yet; the key's fingerprint is recorded so a later run can.
 */

import { describeServer } from '../network-errors.ts';
import {
  CollectorError,
  type CollectedInstance,
  type Collector,
  type CollectorInfo,
  type CollectOptions,
  type CollectResult,
  type CollectTarget,
  withPort,
  type ConnectionCheck,
} from '../types.ts';
import { classifySshError, sanitizeRemoteText } from '../ssh-errors.ts';
import { cancelled, collectOverSsh, DEFAULT_PORT, emptyContext, hostKeyType, SshSession, withinDeadline } from '../ssh-session.ts';
import { buildFileSystems, inventoryScript, parseScriptOutput } from './inventory.ts';

/** The script arrives on stdin, so the login shell only has to start sh, whatever shell it is. */
const REMOTE_COMMAND = 'sh -s';
/** df gets at most this long (GNU timeout), and less when the budget is short. */
const MAX_DF_SECONDS = 20;

/** The connection test's checks, in order (test() words their descriptions for the server at hand). */
const CHECKS = [
  { name: 'connect', description: 'TCP connection and SSH handshake' },
  { name: 'login', description: 'log in with the private key or the password' },
  { name: 'command', description: 'run df and read the mount table (needs no root)' },
] as const;

const fileInfo: CollectorInfo = {
  type: 'file',
  displayName: 'Linux file systems',
  serverNoun: 'Linux host',
  group: 'file-systems',
  defaultPort: DEFAULT_PORT,
  childTypes: ['filesystem'],
  // A key first: that is how hosts are usually reached; a password works too.
  identityKinds: ['key', 'password'],
  tls: false,
  checks: CHECKS,
};

export const fileCollector: Collector = {
  info: fileInfo,
  applicationType: fileInfo.type,

  async collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult> {
    // Messages and the instance name use the effective port, so fill in the default once.
    const where = withPort(target, DEFAULT_PORT);
    return collectOverSsh(where, options, (session, deadline) => collectWith(session, where, deadline));
  },

  async test(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]> {
    const where = withPort(target, DEFAULT_PORT);
    const server = describeServer(where);
    const method = where.privateKey ? 'the private key' : 'the password';
    const [connect, login, command] = CHECKS;
    const checks: ConnectionCheck[] = [
      { name: connect.name, description: `TCP connection and SSH handshake with ${server}`, status: 'SKIPPED' },
      { name: login.name, description: `log in as "${where.username}" with ${method}`, status: 'SKIPPED' },
      { name: command.name, description: command.description, status: 'SKIPPED' },
    ];
    let current = 0;
    let session: SshSession | null = null;
    let succeeded = false;
    try {
      if (options.signal.aborted) throw cancelled(where);
      const deadline = Date.now() + options.timeoutMs;
      const s = new SshSession(where, deadline);
      session = s;

      await withinDeadline(s.handshake, options, where, s, deadline);
      checks[0] = { ...checks[0]!, status: 'SUCCESS', message: `host key ${s.hostKeyFingerprint ?? 'unknown'}` };
      current = 1;

      await withinDeadline(s.ready, options, where, s, deadline);
      checks[1] = { ...checks[1]!, status: 'SUCCESS' };
      current = 2;

      const result = await withinDeadline(collectWith(s, where, deadline), options, where, s, deadline);
      const count = result.instances[0]?.databases.length ?? 0;
      checks[2] = {
        ...checks[2]!,
        status: result.warnings.length ? 'WARNING' : 'SUCCESS',
        message: [`${count} file system${count === 1 ? '' : 's'} found`, ...result.warnings].join('; '),
      };
      succeeded = true;
    } catch (err) {
      const error = classifySshError(err, where, session?.context() ?? emptyContext());
      checks[current] = { ...checks[current]!, status: 'FAILED', message: error.message };
      for (let i = current + 1; i < checks.length; i++) {
        checks[i] = { ...checks[i]!, message: `not run: "${checks[current]!.name}" failed` };
      }
    } finally {
      await session?.close(succeeded).catch(() => {});
    }
    return checks;
  },
};

async function collectWith(session: SshSession, target: CollectTarget, deadline: number): Promise<CollectResult> {
  await session.ready;
  const server = describeServer(target);

  // Worst case df runs twice (the full run times out, then the local-only one) plus the 2 s
  // kill grace each: keep both inside what is left of the budget.
  const remainingSeconds = (deadline - Date.now()) / 1000;
  const dfSeconds = Math.min(MAX_DF_SECONDS, Math.max(1, Math.floor((remainingSeconds - 5) / 2)));
  const run = await session.exec(REMOTE_COMMAND, inventoryScript(dfSeconds));
  const output = parseScriptOutput(run.stdout);
  const remoteError = () => sanitizeRemoteText(run.stderr.trim() || lastLines(run.stdout), target) || 'no output';

  const { facts } = output;
  if (facts.kernelName !== null && facts.kernelName !== 'Linux') {
    throw new CollectorError('UNKNOWN', `${server} runs ${facts.kernelName}, not Linux; the file collector reads Linux hosts only`);
  }
  if (output.mounts === null) {
    const text = remoteError();
    const exit = run.exitCode === null ? (run.signal ? `signal ${run.signal}` : 'no exit status') : `exit ${run.exitCode}`;
    if (/permission denied|not allowed|not available|restricted/i.test(text)) {
      throw new CollectorError('PERMISSION', `user "${target.username}" may not run the inventory command on ${server} (${exit}): ${text}`);
    }
    throw new CollectorError('UNKNOWN', `the inventory command failed on ${server} (${exit}): ${text}`);
  }

  const { databases, findings, warnings } = buildFileSystems(output, server);
  if (!output.complete) {
    warnings.push(`the inventory command on ${server} stopped early (exit ${run.exitCode ?? run.signal ?? 'unknown'}); the list may be incomplete`);
  }

  const hostKey = session.hostKey;
  const instance: CollectedInstance = {
    name: `${target.host}:${target.port ?? DEFAULT_PORT}`,
    host: target.host,
    port: target.port ?? DEFAULT_PORT,
    version: facts.kernelRelease,
    properties: {
      hostname: facts.hostname,
      os: facts.osRelease.PRETTY_NAME ?? facts.osRelease.NAME ?? null,
      osId: facts.osRelease.ID ?? null,
      osVersion: facts.osRelease.VERSION_ID ?? null,
      kernel: facts.kernelRelease,
      arch: facts.arch,
      hostKeyFingerprint: session.hostKeyFingerprint,
      hostKeyType: hostKey ? hostKeyType(hostKey) : null,
    },
    databases,
    findings,
  };
  return { instances: [instance], warnings: warnings.map((w) => sanitizeRemoteText(w, target, 1000)) };
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ');
}
