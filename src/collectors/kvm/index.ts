/**
 * KVM collector: a libvirt host reached over SSH (password or private key) is one instance, and
 * each libvirt domain (VM) on it is one "database". One SSH exec runs a POSIX sh script
 * (script.ts) that reads everything through read-only virsh connections to the host's libvirt
 * URI (default qemu:///system), in two virsh runs however many VMs there are; inventory.ts parses
 * what virsh printed, its XML strictly. Nothing on the host is changed.
 */

import { describeServer } from '../network-errors.ts';
import { classifySshError, sanitizeRemoteText } from '../ssh-errors.ts';
import { cancelled, collectOverSsh, DEFAULT_PORT, emptyContext, SshSession, withinDeadline, type ExecResult } from '../ssh-session.ts';
import {
  CollectorError,
  type CollectedInstance,
  type Collector,
  type CollectorInfo,
  type CollectOptions,
  type CollectResult,
  type CollectTarget,
  type ConnectionCheck,
  withPort,
} from '../types.ts';
import { buildInventory, ParseError, type Inventory } from './inventory.ts';
import { kvmScript, splitOutput, type ScriptOutput } from './script.ts';
import { DEFAULT_LIBVIRT_URI, effectiveUri, libvirtUriProblem } from './uri.ts';

/** The script arrives on stdin, so the login shell only has to start sh, whatever shell it is. */
const REMOTE_COMMAND = 'sh -s';

const CHECKS = [
  { name: 'connect', description: 'TCP connection and SSH handshake' },
  { name: 'login', description: 'log in with the private key or the password' },
  { name: 'virsh', description: "libvirt's client (virsh) is installed and on the user's PATH" },
  { name: 'libvirt', description: 'open a read-only connection to the libvirt URI' },
  { name: 'read', description: 'read the domains, storage pools and networks' },
] as const;

type CheckName = (typeof CHECKS)[number]['name'];

const kvmInfo: CollectorInfo = {
  type: 'kvm',
  displayName: 'KVM (libvirt)',
  serverNoun: 'KVM host',
  group: 'hypervisors',
  defaultPort: DEFAULT_PORT,
  childTypes: ['vm'],
  identityKinds: ['password', 'key'],
  tls: false,
  defaultUri: DEFAULT_LIBVIRT_URI,
  checks: CHECKS,
};

/** A failure, with the connection-test check it belongs to. */
class StepError extends Error {
  constructor(
    readonly check: CheckName,
    readonly error: CollectorError,
  ) {
    super(error.message);
  }
}

export const kvmCollector: Collector = {
  info: kvmInfo,
  applicationType: kvmInfo.type,

  async collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult> {
    const where = withPort(target, DEFAULT_PORT);
    const uri = checkedUri(where);
    return collectOverSsh(where, options, async (session) => {
      await session.ready;
      const run = await session.exec(REMOTE_COMMAND, kvmScript(uri));
      try {
        return toResult(analyse(run, where, uri), session, where, uri);
      } catch (err) {
        // A failed step of the script names its check (for test()); collect() needs only the error.
        throw err instanceof StepError ? err.error : err;
      }
    });
  },

  async test(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]> {
    const where = withPort(target, DEFAULT_PORT);
    const server = describeServer(where);
    const method = where.privateKey ? 'the private key' : 'the password';
    const uri = effectiveUri(where.uri);
    const checks: ConnectionCheck[] = CHECKS.map((c) => ({ name: c.name, description: c.description, status: 'SKIPPED' }));
    checks[0]!.description = `TCP connection and SSH handshake with ${server}`;
    checks[1]!.description = `log in as "${where.username}" with ${method}`;
    checks[3]!.description = `open a read-only connection to ${uri}`;
    const index = (name: CheckName) => CHECKS.findIndex((c) => c.name === name);
    const pass = (name: CheckName, message?: string, status: ConnectionCheck['status'] = 'SUCCESS') => {
      const i = index(name);
      checks[i] = { ...checks[i]!, status, ...(message ? { message } : {}) };
    };

    let current: CheckName = 'connect';
    let session: SshSession | null = null;
    let succeeded = false;
    try {
      const problem = libvirtUriProblem(uri);
      if (problem) {
        current = 'libvirt';
        throw new CollectorError('PROTOCOL', `${problem} (host ${server})`);
      }
      if (options.signal.aborted) throw cancelled(where);
      const deadline = Date.now() + options.timeoutMs;
      const s = new SshSession(where, deadline);
      session = s;

      await withinDeadline(s.handshake, options, where, s, deadline);
      pass('connect', `host key ${s.hostKeyFingerprint ?? 'unknown'}`);
      current = 'login';
      await withinDeadline(s.ready, options, where, s, deadline);
      pass('login');
      current = 'virsh';
      const run = await withinDeadline(s.exec(REMOTE_COMMAND, kvmScript(uri)), options, where, s, deadline);
      const { inventory } = analyse(run, where, uri);
      pass('virsh');
      pass('libvirt', `${inventory.host.hypervisorVersion ?? 'hypervisor'}, libvirt ${inventory.host.libvirtVersion ?? 'unknown'}`);
      const { domains, host, warnings } = inventory;
      const counts = `${plural(domains.length, 'domain')}, ${plural(host.storagePools.length, 'storage pool')}, ${plural(host.networks.length, 'network')}`;
      pass('read', [counts, ...warnings.map((w) => sanitizeRemoteText(w, where))].join('; '), warnings.length ? 'WARNING' : 'SUCCESS');
      succeeded = true;
    } catch (err) {
      let error: CollectorError;
      if (err instanceof StepError) {
        // The checks before the failed one passed: the script got that far.
        for (const c of CHECKS.slice(index('virsh'), index(err.check))) pass(c.name);
        current = err.check;
        error = err.error;
      } else {
        error = classifySshError(err, where, session?.context() ?? emptyContext());
      }
      const i = index(current);
      checks[i] = { ...checks[i]!, status: 'FAILED', message: error.message };
      for (let j = i + 1; j < checks.length; j++) {
        if (checks[j]!.status === 'SKIPPED') checks[j] = { ...checks[j]!, message: `not run: "${current}" failed` };
      }
    } finally {
      await session?.close(succeeded).catch(() => {});
    }
    return checks;
  },
};

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function checkedUri(target: CollectTarget): string {
  const uri = effectiveUri(target.uri);
  const problem = libvirtUriProblem(uri);
  if (problem) throw new CollectorError('PROTOCOL', `${problem} (host ${describeServer(target)})`);
  return uri;
}

/** What the script's run says, step by step; throws a StepError naming the check that failed. */
function analyse(run: ExecResult, target: CollectTarget, uri: string): { output: ScriptOutput; inventory: Inventory } {
  const server = describeServer(target);
  const user = `user "${target.username}"`;
  const output = splitOutput(run.stdout);
  const exit = run.exitCode === null ? (run.signal ? `signal ${run.signal}` : 'no exit status') : `exit ${run.exitCode}`;
  const remote = () => sanitizeRemoteText(run.stderr.trim() || run.stdout.trim().split('\n').slice(-3).join(' '), target) || 'no output';

  if (!output.started) {
    const text = remote();
    const code = /permission denied|not allowed|not available|restricted/i.test(text) ? 'PERMISSION' : 'UNKNOWN';
    const what = code === 'PERMISSION' ? `${user} may not run the inventory command on ${server}` : `the inventory command did not run on ${server}`;
    throw new StepError('virsh', new CollectorError(code, `${what} (${exit}): ${text}`));
  }
  if (output.noVirsh) {
    throw new StepError(
      'virsh',
      new CollectorError('PROTOCOL', `libvirt is not installed on ${server}: virsh is not on the PATH of ${user}`),
    );
  }
  if (output.virshExit !== null) {
    const text = sanitizeRemoteText(output.preamble.filter((l) => l.trim()).join(' ').replace(/error: /g, ''), target) || 'no message';
    throw new StepError('libvirt', connectError(text, server, user, uri));
  }
  if (!output.complete) {
    throw new StepError(
      'read',
      new CollectorError('UNKNOWN', `the inventory command on ${server} stopped early (${exit}): ${remote()}`),
    );
  }
  try {
    return { output, inventory: buildInventory(output) };
  } catch (err) {
    if (err instanceof ParseError) {
      throw new StepError(
        'read',
        new CollectorError('PROTOCOL', `virsh on ${server} printed what Census cannot read: ${sanitizeRemoteText(err.message, target)}`),
      );
    }
    throw err;
  }
}

/** Why virsh could not connect to `uri`, as the error people should see. */
function connectError(text: string, server: string, user: string, uri: string): CollectorError {
  if (/permission denied|access denied|not authorized|authentication (failed|unavailable)|polkit|EACCES/i.test(text)) {
    return new CollectorError('PERMISSION', `${user} may not open ${uri} on ${server}: ${text}`);
  }
  if (/failed to connect socket.*(no such file or directory|connection refused)/i.test(text)) {
    return new CollectorError('PROTOCOL', `libvirt's daemon is not running on ${server} for ${uri}: ${text}`);
  }
  return new CollectorError('PROTOCOL', `virsh on ${server} could not open ${uri}: ${text}`);
}

function toResult(analysed: { inventory: Inventory }, session: SshSession, target: CollectTarget, uri: string): CollectResult {
  const { host, domains, warnings } = analysed.inventory;
  const hypervisor = host.hypervisorVersion;
  const instance: CollectedInstance = {
    name: target.host,
    host: target.host,
    port: target.port ?? DEFAULT_PORT,
    version: hypervisor ? `${hypervisor} (libvirt ${host.libvirtVersion})` : `libvirt ${host.libvirtVersion}`,
    properties: {
      hypervisorType: 'kvm',
      uri,
      hostname: host.hostname,
      nodeInfo: host.nodeInfo,
      libvirtVersion: host.libvirtVersion,
      hypervisorVersion: hypervisor,
      storagePools: host.storagePools,
      networks: host.networks,
      hostKeyFingerprint: session.hostKeyFingerprint,
    },
    databases: domains,
  };
  return { instances: [instance], warnings: warnings.map((w) => sanitizeRemoteText(w, target, 1000)) };
}
