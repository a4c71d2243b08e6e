/**
 * VMware vSphere collector: a vCenter (or an ESXi host) reached over its SOAP API (vim25) at
 * https://host:port/sdk is one instance, and each virtual machine it manages is one "database"
 * of type `vm`. Speaks SOAP itself (soap.ts) over node:https with the TLS mode of the server:
 * `require` accepts any certificate (vCenter's own is self-signed until replaced), `verify`
 * checks it against the system's CAs and the host name, `disable` is plain HTTP (which a real
 * vCenter does not serve). Read-only: Login, views and property reads, Logout.
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
  type ConnectionCheck,
  withPort,
} from '../types.ts';
import { readInventory } from './inventory.ts';
import { SoapClient } from './soap.ts';
import { login, logout, retrieveServiceContent, type ServiceContent } from './vim.ts';

export const DEFAULT_PORT = 443;
/** What is kept of the deadline for Logout after a good run. */
const LOGOUT_GRACE_MS = 2000;

const CHECKS = [
  { name: 'connect', description: 'reach the vSphere SDK (/sdk) and read its service content' },
  { name: 'login', description: 'log in with the user name and password' },
  { name: 'read', description: 'read the datacenters, hosts and virtual machines' },
] as const;
type CheckName = (typeof CHECKS)[number]['name'];

const vmwareInfo: CollectorInfo = {
  type: 'vmware',
  displayName: 'VMware vSphere',
  serverNoun: 'vCenter',
  group: 'hypervisors',
  defaultPort: DEFAULT_PORT,
  childTypes: ['vm'],
  identityKinds: ['password'],
  tls: true,
  // vSphere speaks only HTTPS; a self-signed vCenter needs "require" said out loud.
  defaultTls: 'verify',
  checks: CHECKS,
};

/** A failure with the check it belongs to (for test()). */
class StepError extends Error {
  constructor(
    readonly check: CheckName,
    readonly error: CollectorError,
  ) {
    super(error.message);
  }
}

/** Runs the steps in order; a failure names its step. Logs out after a good login, whatever followed. */
async function session<T>(
  target: CollectTarget,
  options: CollectOptions,
  activity: string,
  onStep: (check: CheckName, message: string) => void,
  work: (soap: SoapClient, sc: ServiceContent) => Promise<T>,
): Promise<T> {
  const soap = new SoapClient(target, options, activity);
  if (options.signal.aborted) throw new StepError('connect', soap.cancelled());
  let step: CheckName = 'connect';
  let sc: ServiceContent | null = null;
  let loggedIn = false;
  try {
    sc = await retrieveServiceContent(soap);
    onStep('connect', `${sc.about.fullName ?? 'a vSphere server'} (API ${sc.about.apiVersion ?? 'unknown'})`);
    step = 'login';
    if (!target.password) throw new CollectorError('AUTH', `no password is stored for user "${target.username}" of ${describeServer(target)}`);
    await login(soap, sc, target.username, target.password);
    loggedIn = true;
    onStep('login', `logged in as "${target.username}"`);
    step = 'read';
    return await work(soap, sc);
  } catch (err) {
    throw new StepError(step, err instanceof CollectorError ? err : new CollectorError('UNKNOWN', `${describeServer(target)}: ${String(err)}`));
  } finally {
    if (loggedIn && sc && !options.signal.aborted) {
      // A session left open counts against vCenter's session limit until it times out.
      const deadline = Math.min(soap.deadline, Date.now() + LOGOUT_GRACE_MS);
      await logout(soap, sc, deadline).catch(() => {});
    }
    soap.close();
  }
}

export const vmwareCollector: Collector = {
  info: vmwareInfo,
  applicationType: vmwareInfo.type,

  async collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult> {
    const where = withPort(target, DEFAULT_PORT);
    try {
      return await session(where, options, 'collection from', () => {}, async (soap, sc) => {
        const inventory = await readInventory(soap, sc);
        const instance: CollectedInstance = {
          name: where.host,
          host: where.host,
          port: where.port,
          version: sc.about.fullName,
          properties: {
            hypervisorType: 'vmware',
            apiType: sc.about.apiType,
            apiVersion: sc.about.apiVersion,
            productVersion: sc.about.version,
            instanceUuid: sc.about.instanceUuid,
            datacenters: inventory.datacenters,
            hosts: inventory.hosts,
          },
          databases: inventory.vms,
        };
        return { instances: [instance], warnings: inventory.warnings };
      });
    } catch (err) {
      throw err instanceof StepError ? err.error : err;
    }
  },

  async test(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]> {
    const where = withPort(target, DEFAULT_PORT);
    const server = describeServer(where);
    const checks: ConnectionCheck[] = CHECKS.map((c) => ({ name: c.name, description: c.description, status: 'SKIPPED' }));
    checks[0]!.description = `reach the vSphere SDK of ${server} and read its service content`;
    checks[1]!.description = `log in as "${where.username}" with the password`;
    const index = (name: CheckName) => CHECKS.findIndex((c) => c.name === name);
    const set = (name: CheckName, status: ConnectionCheck['status'], message: string) => {
      const i = index(name);
      checks[i] = { ...checks[i]!, status, message };
    };
    try {
      await session(where, options, 'connection test of', (check, message) => set(check, 'SUCCESS', message), async (soap, sc) => {
        const inventory = await readInventory(soap, sc);
        const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
        const counts = `${n(inventory.datacenters.length, 'datacenter')}, ${n(inventory.hosts.length, 'host')}, ${n(inventory.vms.length, 'virtual machine')}`;
        set('read', inventory.warnings.length ? 'WARNING' : 'SUCCESS', [counts, ...inventory.warnings].join('; '));
      });
    } catch (err) {
      const failed = err instanceof StepError ? err : new StepError('connect', new CollectorError('UNKNOWN', String(err)));
      set(failed.check, 'FAILED', failed.error.message);
      for (const c of CHECKS.slice(index(failed.check) + 1)) set(c.name, 'SKIPPED', `not run: "${failed.check}" failed`);
    }
    return checks;
  },
};
