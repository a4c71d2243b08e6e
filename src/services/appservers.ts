/**
 * Application servers: the registration rules, update, unregister, the connection test and the
 * one-server inventory. Routes (src/api/appservers.ts) turn SPP's wire fields into an
 * AppServerInput and call these; the rules live here so that bulk registration, /ngp, the CLI
 * and the update share them.
 */
import type { Actor } from '../core/actor.ts';
import type { CollectorInfo } from '../core/collector-info.ts';
import { conflict, DomainError, forbidden, invalid, notFound } from '../core/errors.ts';
import type { Permission } from '../core/permissions.ts';
import { INT32_MAX, type ListQuery, type ListResult } from '../core/query.ts';
import { TLS_MODES } from '../core/tls-mode.ts';
import type { AppServer, Identity } from '../core/types.ts';
import { DEFAULT_SITE_ID } from '../core/sites.ts';
import { hypervisorTypes, isHypervisorType, KNOWN_HYPERVISOR_TYPES } from '../core/hypervisors.ts';
import { libvirtUriProblem } from '../core/libvirt-uri.ts';
import type { ServerData } from '../core/notifications.ts';
import { INVENTORY_JOB_ID } from '../engine/system-jobs.ts';
import type { ConnectionTest } from '../store/appservers.ts';
import type { Repositories } from '../store/index.ts';
import type { ServiceContext } from './context.ts';
import { identityDraft, type IdentityInput } from './identities.ts';
import type { JobService } from './jobs.ts';

/** What server.registered and server.removed say about a server (an application server or a hypervisor). */
const serverData = (a: AppServer): ServerData => ({ appserver: { id: a.id, name: a.name, type: a.applicationType, host: a.hostAddress } });

/** A server as a caller describes it; what is left out takes its default. */
export interface AppServerInput {
  hostAddress: string;
  applicationType: string;
  name?: string;
  portNumber?: number | null;
  osType?: string;
  comment?: string | null;
  tlsMode?: string;
  useKeyAuthentication: boolean;
  maxConcurrency?: number;
  /** A hypervisor's libvirt URI on its host (null: the collector's default); refused for application servers. */
  uri?: string | null;
  /** The site it belongs to (default 1000, "Primary"); its workers run its tasks (docs/sites.md). */
  siteId?: number;
  /** An identity that exists, or credentials to make one from. */
  credentials: { identityId: number } | { inline: IdentityInput };
}

/** What an update may change: any registration field but the application type, which is what the inventory is of. */
export type AppServerChanges = Partial<Omit<AppServerInput, 'applicationType'>> & { applicationType?: string };

/** Most servers one bulk request may register. */
export const MAX_BULK = 5_000;
/** Connection test results are kept this long. */
const TEST_KEPT_MS = 24 * 3_600_000;
const HOST = /^[A-Za-z0-9._:[\]-]+$/;

/** A checked registration, not yet saved: the server and where its credentials come from. */
interface Draft {
  server: Omit<AppServer, 'id' | 'identityId'>;
  identity: { id: number } | { draft: Omit<Identity, 'id'> };
}

/**
 * Which registered servers one instance of this service manages. Application servers and
 * hypervisors are the same rows with the same rules; a hypervisor is a server whose type is a
 * hypervisor type (core/hypervisors.ts). Each side sees only its own: the other's ids are 404.
 */
export interface ServerKind {
  group: 'applications' | 'hypervisors';
  /** For messages: "Application server", "Hypervisor". */
  noun: string;
  permissions: { view: Permission; register: Permission; edit: Permission; deregister: Permission };
  /** The inventory job registration and ?action=inventory start. */
  jobId: number;
}

export const APPLICATION_SERVERS: ServerKind = {
  group: 'applications', noun: 'Application server', jobId: INVENTORY_JOB_ID,
  permissions: { view: 'appserver.view', register: 'appserver.register', edit: 'appserver.edit', deregister: 'appserver.deregister' },
};


/** `jobs` starts the inventories registration asks for, as any other start goes. */
export function appServerService(ctx: ServiceContext, jobs: JobService, kind: ServerKind = APPLICATION_SERVERS) {
  const { store, engine, clock } = ctx;
  const hypervisors = kind.group === 'hypervisors';
  const noun = kind.noun.toLowerCase();
  /** Whether a server of this type is one of this kind's. */
  const covers = (applicationType: string) => isHypervisorType(applicationType, ctx.collectors) === hypervisors;
  /** The store's filter for this kind's rows. */
  const rows = () => (hypervisors ? { only: hypervisorTypes(ctx.collectors) } : { except: hypervisorTypes(ctx.collectors) });

  function collectorOf(applicationType: string) {
    const mine = ctx.collectors.filter((c) => covers(c.type));
    const collector = mine.find((c) => c.type === applicationType);
    if (!collector) {
      const can = mine.map((c) => c.type).join(', ') || 'none yet';
      if (hypervisors && KNOWN_HYPERVISOR_TYPES.includes(applicationType)) {
        throw invalid(`Hypervisor type "${applicationType}" is not supported yet; Census can inventory: ${can}.`, 'appserver.unknown-type');
      }
      if (!hypervisors && covers(applicationType) === false && isHypervisorType(applicationType, ctx.collectors)) {
        throw invalid(`"${applicationType}" is a hypervisor type: register it at /api/hypervisor.`, 'appserver.unknown-type');
      }
      if (hypervisors) throw invalid(`Unknown hypervisor type "${applicationType}"; Census can inventory: ${can}.`, 'appserver.unknown-type');
      throw invalid(`Census cannot inventory application type "${applicationType}" yet; it can: ${can}.`, 'appserver.unknown-type');
    }
    return collector;
  }

  /**
   * The connection URI, for a collector that takes one (kvm: libvirt's). Checked with the
   * collector's own rule (core/libvirt-uri.ts, libvirt being the only such collector so far), so
   * a remote or shell-breaking URI is a 400 here rather than a failed task at the first inventory.
   */
  function uriOf(uri: string | null | undefined, collector: CollectorInfo): string | null {
    if (uri === undefined || uri === null || uri.trim() === '') return null;
    if (collector.defaultUri === undefined) throw invalid(`A ${collector.displayName} registration takes no "uri".`, 'appserver.uri');
    const u = uri.trim();
    const problem = libvirtUriProblem(u);
    if (problem !== null) throw invalid(`Invalid "uri": ${problem}.`, 'hypervisor.uri');
    return u;
  }

  /** The rules that need no store: address, type, port, TLS mode, and that the type accepts this kind of login. */
  function draft(input: AppServerInput): Draft {
    const hostAddress = input.hostAddress.trim();
    if (!HOST.test(hostAddress)) throw invalid(`"hostAddress" ${JSON.stringify(hostAddress)} is not a host name or IP address.`, 'appserver.host');
    const applicationType = input.applicationType.toLowerCase();
    const collector = collectorOf(applicationType);
    const portNumber = input.portNumber ?? null;
    if (portNumber !== null && (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535)) {
      throw invalid('"portNumber" must be a whole number from 1 to 65535.', 'appserver.port');
    }
    const tlsMode = (input.tlsMode ?? collector.defaultTls ?? 'disable').toLowerCase();
    if (!(TLS_MODES as readonly string[]).includes(tlsMode)) throw invalid(`"tls" must be one of ${TLS_MODES.join(', ')}.`, 'appserver.tls');
    const useKey = input.useKeyAuthentication;
    if (!collector.identityKinds.includes(useKey ? 'key' : 'password')) {
      const how = (k: string) => (k === 'key' ? 'an SSH key' : 'a password');
      throw invalid(`A ${applicationType} server logs in with ${collector.identityKinds.map(how).join(' or ')}, not with ${how(useKey ? 'key' : 'password')}.`, 'appserver.login-kind');
    }
    const mc = input.maxConcurrency;
    return {
      server: {
        name: input.name ?? hostAddress,
        hostAddress,
        portNumber,
        applicationType,
        osType: (input.osType ?? 'linux').toLowerCase(),
        comment: input.comment ?? null,
        useKeyAuthentication: useKey,
        maxConcurrency: mc !== undefined && Number.isInteger(mc) && mc > 0 && mc <= INT32_MAX ? mc : 10,
        createdAt: clock.now(),
        tlsMode,
        uri: uriOf(input.uri, collector),
        siteId: input.siteId ?? DEFAULT_SITE_ID,
      },
      identity: 'identityId' in input.credentials
        ? { id: input.credentials.identityId }
        : { draft: identityDraft(ctx, input.credentials.inline, useKey ? 'key' : 'password', collector.passwordOptional === true) },
    };
  }

  /** The identity exists and is of the kind the server logs in with. */
  async function checkIdentity(r: Repositories, identityId: number, useKey: boolean): Promise<void> {
    const i = await r.identities.get(identityId);
    if (!i) throw notFound('Identity', identityId);
    if ((i.kind === 'key') !== useKey) {
      throw invalid(i.kind === 'key'
        ? `Identity ${i.id} is an SSH key: register with "useKeyAuthentication": true and "oskey".`
        : `Identity ${i.id} holds a password, but "useKeyAuthentication" is true.`, 'appserver.identity-kind');
    }
  }

  /** The site a server is put in exists (docs/sites.md). */
  async function checkSite(r: Repositories, siteId: number | undefined): Promise<void> {
    if (siteId !== undefined && !(await r.sites.get(siteId))) throw invalid(`Site ${siteId} does not exist; GET /api/site lists the sites.`, 'appserver.site');
  }

  /** Another server registered at the same address, port and type, if any. */
  async function sameAddress(r: Repositories, s: Pick<AppServer, 'hostAddress' | 'portNumber' | 'applicationType'>, except?: number) {
    return (await r.appservers.atAddress(s.hostAddress, s.portNumber, s.applicationType)).find((a) => a.id !== except);
  }

  const taken = (s: Pick<AppServer, 'hostAddress' | 'portNumber' | 'applicationType'>, same: AppServer) =>
    conflict(`${s.hostAddress}${s.portNumber ? `:${s.portNumber}` : ''} (${s.applicationType}) is already registered as "${same.name}" (id ${same.id}).`, 'appserver.duplicate');

  /**
   * Checks what needs the store: the identity, and that the server is new. Returns the server
   * already saved when this is a retry of the same registration.
   */
  async function checkDraft(r: Repositories, d: Draft): Promise<AppServer | undefined> {
    await checkSite(r, d.server.siteId);
    if ('id' in d.identity) await checkIdentity(r, d.identity.id, d.server.useKeyAuthentication);
    const same = await sameAddress(r, d.server);
    if (same && (await isRetry(r, same, d))) return same;
    if (same) throw taken(d.server, same);
  }

  /**
   * A client whose registration was saved but whose 201 never reached it (the server was killed,
   * the connection dropped) sends it again: the same name, address, port, type and credentials
   * get the server it already made rather than a 409 (docs/compat.md).
   */
  async function isRetry(r: Repositories, a: AppServer, d: Draft): Promise<boolean> {
    if (a.name !== d.server.name || a.useKeyAuthentication !== d.server.useKeyAuthentication || a.identityId === null) return false;
    if ('id' in d.identity) return a.identityId === d.identity.id;
    const had = await r.identities.get(a.identityId);
    const want = d.identity.draft;
    if (!had || had.kind !== want.kind || had.username !== want.username) return false;
    try {
      return ctx.secrets.open(had.secret) === ctx.secrets.open(want.secret);
    } catch {
      return false; // sealed under another key: not knowingly the same credentials
    }
  }

  /** Saves a new server; its server.registered notification commits with it (docs/notifications.md). */
  async function save(r: Repositories, d: Draft): Promise<AppServer> {
    const identityId = 'id' in d.identity ? d.identity.id : (await r.identities.create(d.identity.draft)).id;
    const server = await r.appservers.create({ ...d.server, identityId });
    await r.notifications.add({ type: 'server.registered', data: serverData(server) }, ctx.clock.now());
    return server;
  }

  /** SPP starts the inventory on registration; Census inventories these servers (or adds them to the inventory running). */
  const inventoryNow = (actor: Actor, trigger: string, appserverIds: number[]) => jobs.start(actor, kind.jobId, trigger, appserverIds);

  /** A server the caller can see: one outside their resource groups, or of the other kind, does not exist for them. */
  async function get(actor: Actor, id: number): Promise<AppServer> {
    const a = await store.appservers.get(id);
    if (!a || !covers(a.applicationType) || !actor.access.reaches(kind.permissions.view, id)) throw notFound(kind.noun, id);
    return a;
  }

  /** A server the caller can see and may act on with `permission`. */
  async function getFor(actor: Actor, id: number, permission: Permission): Promise<AppServer> {
    const a = await get(actor, id);
    if (!actor.access.reaches(permission, id)) throw forbidden(`${actor.name} may not do that to ${noun} ${a.name} (${permission}).`, 'appserver.permission');
    return a;
  }

  /** Registering: a server outside every group but All Resources would be one its registrant cannot see. */
  const mayRegister = (actor: Actor) => {
    if (actor.access.scope(kind.permissions.register) !== 'all') {
      throw forbidden(`Registering ${noun}s needs ${kind.permissions.register} on All Resources.`, 'appserver.register-scope');
    }
  };

  return {
    get,

    list(actor: Actor, q: ListQuery): Promise<ListResult<AppServer>> {
      return store.appservers.list(q, actor.access.scope(kind.permissions.view), rows());
    },

    /** Registers one server; `inventory` inventories it at once. */
    async register(actor: Actor, input: AppServerInput, opts: { inventory: boolean }): Promise<AppServer> {
      mayRegister(actor);
      const d = draft(input);
      const server = await store.transaction(async (r) => (await checkDraft(r, d)) ?? save(r, d));
      if (opts.inventory) await inventoryNow(actor, 'registration', [server.id]);
      return server;
    },

    /**
     * Registers many at once: every entry is checked before any is saved, all are saved in one
     * transaction, and one inventory session covers them unless `inventory` is false. An entry
     * the caller could not read arrives as `{problem}` and is reported with the others.
     */
    async registerMany(actor: Actor, entries: (AppServerInput | { problem: string })[], opts: { inventory: boolean }) {
      mayRegister(actor);
      if (!entries.length) throw invalid('Bulk registration needs at least one application server.', 'appserver.bulk-empty');
      if (entries.length > MAX_BULK) throw invalid(`Bulk registration takes at most ${MAX_BULK} application servers at once.`, 'appserver.bulk-size');
      const problems: { entry: number; text: string }[] = [];
      const describe = (err: unknown) => (err instanceof DomainError ? err.description : (err as Error).message);
      const drafts: { entry: number; draft: Draft }[] = [];
      entries.forEach((e, i) => {
        if ('problem' in e) return void problems.push({ entry: i + 1, text: e.problem });
        try {
          drafts.push({ entry: i + 1, draft: draft(e) });
        } catch (err) {
          problems.push({ entry: i + 1, text: describe(err) });
        }
      });
      const seen = new Map<string, number>();
      for (const { entry, draft: d } of drafts) {
        const key = `${d.server.hostAddress.toLowerCase()}|${d.server.portNumber}|${d.server.applicationType}`;
        if (seen.has(key)) problems.push({ entry, text: `the same server as entry ${seen.get(key)}` });
        else seen.set(key, entry);
      }
      const refuse = () => invalid(`Nothing was registered. ${problems.length} problem(s): ${problems
        .sort((a, b) => a.entry - b.entry).slice(0, 50).map((p) => `entry ${p.entry}: ${p.text}`).join('; ')}`, 'appserver.bulk-refused');
      if (problems.length) throw refuse();

      const servers = await store.transaction(async (r) => {
        // A retried bulk registration gets the servers its first attempt saved, the way one does.
        const already: (AppServer | undefined)[] = [];
        for (const { entry, draft: d } of drafts) {
          try {
            already.push(await checkDraft(r, d));
          } catch (err) {
            problems.push({ entry, text: describe(err) });
          }
        }
        if (problems.length) throw refuse();
        const saved: AppServer[] = [];
        for (const [i, { draft: d }] of drafts.entries()) saved.push(already[i] ?? (await save(r, d)));
        return saved;
      });
      const session = opts.inventory ? (await inventoryNow(actor, 'registration', servers.map((s) => s.id))).session : null;
      return { servers, sessionId: session ? session.id : null };
    },

    /**
     * Changes a registration in place: the server keeps its id and what its inventories found.
     * Fields left out stay; the application type cannot change (register a new server for that).
     */
    async update(actor: Actor, id: number, changes: AppServerChanges): Promise<AppServer> {
      const current = await getFor(actor, id, kind.permissions.edit);
      if (changes.applicationType !== undefined && changes.applicationType.toLowerCase() !== current.applicationType) {
        throw invalid(`The application type of a server cannot change (it is ${current.applicationType}); register a new server instead.`, 'appserver.type-fixed');
      }
      const credentials = changes.credentials ?? (current.identityId !== null ? { identityId: current.identityId } : undefined);
      if (!credentials) throw invalid('Give the credentials to use: "osuser": {"href": ".../api/identity/user/ID"} (or "oskey" with useKeyAuthentication).', 'appserver.credentials');
      const useKey = changes.useKeyAuthentication ?? current.useKeyAuthentication;
      const d = draft({
        hostAddress: changes.hostAddress ?? current.hostAddress,
        applicationType: current.applicationType,
        name: changes.name ?? current.name,
        portNumber: changes.portNumber !== undefined ? changes.portNumber : current.portNumber,
        osType: changes.osType ?? current.osType,
        comment: changes.comment !== undefined ? changes.comment : current.comment,
        tlsMode: changes.tlsMode ?? current.tlsMode,
        useKeyAuthentication: useKey,
        maxConcurrency: changes.maxConcurrency ?? current.maxConcurrency,
        uri: changes.uri !== undefined ? changes.uri : current.uri ?? null,
        siteId: changes.siteId ?? current.siteId ?? DEFAULT_SITE_ID,
        credentials,
      });
      return store.transaction(async (r) => {
        await checkSite(r, d.server.siteId);
        if ('id' in d.identity) await checkIdentity(r, d.identity.id, useKey);
        const same = await sameAddress(r, d.server, id);
        if (same) throw taken(d.server, same);
        const identityId = 'id' in d.identity ? d.identity.id : (await r.identities.create(d.identity.draft)).id;
        const { createdAt: _keep, applicationType: _fixed, ...server } = d.server;
        const updated = await r.appservers.update(id, { ...server, identityId });
        if (!updated) throw notFound(kind.noun, id);
        return updated;
      });
    },

    /** What its inventories found is kept; the identity it used is not deleted. */
    async unregister(actor: Actor, id: number): Promise<void> {
      const a = await getFor(actor, id, kind.permissions.deregister);
      await store.transaction(async (r) => {
        if (!(await r.appservers.delete(a.id))) throw notFound(kind.noun, id);
        await r.notifications.add({ type: 'server.removed', data: serverData(a) }, ctx.clock.now());
        // Its alerts (failing runs, watched changes) are about a server that is no longer there.
        await r.alerts.clearServer(a.id, ctx.clock.now());
      });
    },

    /** Inventories this server alone (or adds it to the inventory running). */
    async inventory(actor: Actor, id: number) {
      const server = await getFor(actor, id, 'policy.run');
      const { session, started } = await inventoryNow(actor, 'appserver', [server.id]);
      return { server, session, started };
    },

    /** Runs the connection and privilege checks and keeps the result for a day. */
    async test(actor: Actor, id: number): Promise<ConnectionTest> {
      const a = await getFor(actor, id, kind.permissions.edit);
      const checks = await engine.testConnection(a.id);
      const saved = await store.connectionTests.save(a.id, clock.now(), checks);
      await store.connectionTests.deleteBefore(clock.now() - TEST_KEPT_MS);
      return saved;
    },

    async testResult(actor: Actor, id: number, testId: number): Promise<ConnectionTest> {
      const a = await get(actor, id);
      const t = await store.connectionTests.get(testId);
      if (!t || t.appserverId !== a.id) throw notFound('Connection test', testId);
      return t;
    },
  };
}

export type AppServerService = ReturnType<typeof appServerService>;
