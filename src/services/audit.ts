/**
 * The audit log (issue 11): every change someone makes, and every login and logout, with who,
 * when, from where, what, and how it ended. Use cases are recorded in one place: createServices
 * wraps each mutating use case with `withAudit`, which records success, or failure with the
 * DomainError's code, around the call; the login, logout and first-login password change are
 * wrapped the same way by `withAuditedAuth`. Refusals that never reach a service (a route's
 * permission check, a schema's validation) are recorded by the API (src/api/audit.ts), which
 * asks `alreadyAudited` so that no failure is recorded twice.
 *
 * What is recorded never holds a secret: changes name the fields they set, not their values.
 */
import type { Actor } from '../core/actor.ts';
import { DomainError } from '../core/errors.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { AuditEntry, AuditOutcome } from '../store/audit.ts';
import type { ApiKeyService } from './apikeys.ts';
import type { AppServerService } from './appservers.ts';
import type { AuthService, Credentials, Principal } from './auth.ts';
import type { ServiceContext } from './context.ts';
import type { DirectoryService } from './directories.ts';
import type { IdentityService } from './identities.ts';
import type { JobService } from './jobs.ts';
import type { ResourcePoolService, RoleService } from './roles.ts';
import type { SessionService } from './sessions.ts';
import type { UserService } from './users.ts';

/** Who acted: a caller of a use case, or someone not logged in yet (a login). */
export type Who = Actor | { readonly name: string; readonly userId?: number | null; readonly address?: string | null };

export interface AuditEvent {
  action: string;
  targetType?: string | null;
  targetId?: string | number | null;
  targetName?: string | null;
  outcome: AuditOutcome;
  /** Names and codes only: never a password, key or token. */
  detail?: Record<string, unknown> | undefined;
}

/** Failures already in the log, so that the API does not record them a second time. */
const recorded = new WeakSet<object>();

/** Whether a use case wrapped here recorded this error as its failure already. */
export const alreadyAudited = (err: unknown): boolean => typeof err === 'object' && err !== null && recorded.has(err);

/** The stable code of an error: the DomainError's rule ('appserver.duplicate', …), or 'internal'. */
export const errorCode = (err: unknown): string => (err instanceof DomainError ? err.code : 'internal');

/** A user name as typed at a login can be anything, a pasted password even: kept short. */
const clip = (s: string, n = 128) => (s.length > n ? `${s.slice(0, n)}…` : s);

export function auditService(ctx: Pick<ServiceContext, 'store' | 'clock'>) {
  const { store, clock } = ctx;

  async function record(who: Who, e: AuditEvent): Promise<void> {
    const user = 'kind' in who
      ? { userId: who.kind === 'user' ? who.userId : null, userName: who.name, address: who.kind === 'user' ? who.address ?? null : null }
      : { userId: who.userId ?? null, userName: clip(who.name), address: who.address ?? null };
    await store.audit.add({
      at: clock.now(),
      ...user,
      action: e.action,
      targetType: e.targetType ?? null,
      targetId: e.targetId === undefined || e.targetId === null ? null : String(e.targetId),
      targetName: e.targetName ?? null,
      outcome: e.outcome,
      detail: e.detail && Object.keys(e.detail).length ? e.detail : null,
    });
  }

  return {
    record,

    /**
     * Records a failure and marks the error as recorded. Never throws: the caller is about to
     * rethrow the error the user must see, and a failed write of the log must not replace it.
     */
    async recordFailure(who: Who, e: Omit<AuditEvent, 'outcome'>, err: unknown): Promise<void> {
      if (typeof err === 'object' && err !== null) {
        if (recorded.has(err)) return;
        recorded.add(err);
      }
      try {
        await record(who, { ...e, outcome: 'failure', detail: { ...e.detail, code: errorCode(err) } });
      } catch (writeErr) {
        console.error('census: could not write an audit log entry:', writeErr);
      }
    },

    /** Entries (GET /api/endeavour/log/audit); a reader limited to resource groups sees none about other servers. */
    list(actor: Actor, q: ListQuery): Promise<ListResult<AuditEntry>> {
      return store.audit.list(q, actor.access.scope('log.view'));
    },
  };
}

export type AuditService = ReturnType<typeof auditService>;

// ---- Wrapping use cases -----------------------------------------------------------------------

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type UseCase = (actor: Actor, ...args: any[]) => Promise<unknown>;
type Args<F> = F extends (actor: Actor, ...args: infer A) => Promise<unknown> ? A : never;
type Result<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;

export interface Target {
  id?: string | number | null;
  name?: string | null;
}

/** How one use case is recorded. */
export interface AuditSpec<F> {
  action: string;
  targetType: string;
  /** The target, from the arguments and (after success) the result; default: the first argument as id. */
  target?: (args: Args<F>, result: Result<F> | undefined) => Target;
  /** The target's name, read before the call (what the call deletes has none after it). */
  nameBefore?: (args: Args<F>) => Promise<string | null | undefined>;
  /** More to record: field names, counts, a trigger. Never a secret value. */
  detail?: (args: Args<F>, result: Result<F> | undefined) => Record<string, unknown> | undefined;
}

export type AuditSpecs<S> = { [K in keyof S]?: S[K] extends UseCase ? AuditSpec<S[K]> : never };

/** The keys of a change, for the log: which fields were set, never what to. */
export const fieldsOf = (changes: object | undefined): string[] => Object.keys(changes ?? {}).sort();

/** Records `fn`'s success, or its failure with the error's code, under `spec`. */
export function audited<F extends UseCase>(audit: AuditService, spec: AuditSpec<F>, fn: F): F {
  const targetOf = (args: Args<F>, result: Result<F> | undefined, before: string | null | undefined) => {
    const t = spec.target ? spec.target(args, result) : { id: typeof args[0] === 'number' ? (args[0] as number) : null };
    return { action: spec.action, targetType: spec.targetType, targetId: t.id ?? null, targetName: t.name ?? before ?? null };
  };
  const wrapped = async (actor: Actor, ...rest: unknown[]) => {
    const args = rest as Args<F>;
    const before = spec.nameBefore ? await spec.nameBefore(args).catch(() => undefined) : undefined;
    let result: Result<F>;
    try {
      result = (await fn(actor, ...args)) as Result<F>;
    } catch (err) {
      await audit.recordFailure(actor, { ...targetOf(args, undefined, before), detail: spec.detail?.(args, undefined) }, err);
      throw err;
    }
    await audit.record(actor, { ...targetOf(args, result, before), outcome: 'success', detail: spec.detail?.(args, result) });
    return result;
  };
  return wrapped as F;
}

/** A copy of `service` whose use cases named in `specs` are recorded (the others are as they were). */
export function withAudit<S extends object>(audit: AuditService, service: S, specs: AuditSpecs<S>): S {
  const out: Record<string, unknown> = { ...(service as Record<string, unknown>) };
  for (const [name, spec] of Object.entries(specs) as [string, AuditSpec<UseCase>][]) {
    out[name] = audited(audit, spec, (service as Record<string, UseCase>)[name]!);
  }
  return out as S;
}

/**
 * The login service with its login, logout and first-login password change recorded. Logout and
 * the password change take the caller's address as well (the API knows it; the session does not).
 */
export function withAuditedAuth(audit: AuditService, ctx: Pick<ServiceContext, 'store'>, auth: AuthService) {
  const { store } = ctx;
  return {
    ...auth,

    async login(...args: Parameters<AuthService['login']>): ReturnType<AuthService['login']> {
      const [credentials, address] = args as [Credentials | undefined, string];
      const name = credentials?.user ?? '';
      try {
        const out = await auth.login(...args);
        await audit.record({ userId: out.user.id, name: out.user.name, address }, {
          action: 'login', targetType: 'user', targetId: out.user.id, targetName: out.user.name, outcome: 'success',
          // Logged in, but refused until the password is changed (the route answers 401).
          detail: out.user.passwordExpired ? { passwordExpired: true } : undefined,
        });
        return out;
      } catch (err) {
        await audit.recordFailure({ name, address }, { action: 'login', targetType: 'user', targetName: name ? clip(name) : null }, err);
        throw err;
      }
    },

    async logout(sessionId: Parameters<AuthService['logout']>[0], address?: string): Promise<void> {
      // An API key is no session: there is nothing to end, and so nothing to record.
      const s = sessionId ? await store.loginSessions.get(sessionId) : undefined;
      await auth.logout(sessionId);
      if (s) {
        await audit.record({ userId: s.userId, name: s.userName, address: address ?? null }, {
          action: 'logout', targetType: 'user', targetId: s.userId, targetName: s.userName, outcome: 'success',
        });
      }
    },

    async changePassword(caller: Pick<Principal, 'userId' | 'sessionId'> & { address?: string }, newPassword: string): Promise<void> {
      const u = await store.users.byId(caller.userId);
      const who = { userId: caller.userId, name: u?.name ?? String(caller.userId), address: caller.address ?? null };
      const what = { action: 'user.password', targetType: 'user', targetId: caller.userId, targetName: u?.name ?? null };
      try {
        await auth.changePassword({ userId: caller.userId, sessionId: caller.sessionId }, newPassword);
      } catch (err) {
        await audit.recordFailure(who, what, err);
        throw err;
      }
      await audit.record(who, { ...what, outcome: 'success' });
    },
  };
}

// ---- What each service records -----------------------------------------------------------------

/** How each mutating use case is recorded (createServices applies these with withAudit). */
export function auditSpecs(ctx: Pick<ServiceContext, 'store'>) {
  const { store } = ctx;
  const jobName = async ([id]: [number, ...unknown[]]) => (await store.jobs.get(id))?.name;
  const serverName = async ([id]: [number, ...unknown[]]) => (await store.appservers.get(id))?.name;
  const userName = async ([id]: [number, ...unknown[]]) => (await store.users.byId(id))?.name;
  const roleName = async ([id]: [number, ...unknown[]]) => (await store.roles.get(id))?.name;
  const poolName = async ([id]: [number, ...unknown[]]) => (await store.resourcePools.get(id))?.name;
  const identityName = async ([id]: [number, ...unknown[]]) => (await store.identities.get(id))?.name;
  const keyName = async ([id]: [number, ...unknown[]]) => (await store.apiKeys.get(id))?.name;
  const directoryName = async ([id]: [number, ...unknown[]]) => (await store.directories.get(id))?.name;
  const job = (action: string) => ({ action, targetType: 'job', nameBefore: jobName });

  const users: AuditSpecs<UserService> = {
    create: {
      action: 'user.create', targetType: 'user',
      target: ([input], r) => ({ id: r?.user.id ?? null, name: r?.user.name ?? input.name }),
      detail: ([input]) => ({ permissions: input.permissions }),
    },
    // A password set by someone else is named as a field, never its value.
    update: { action: 'user.update', targetType: 'user', nameBefore: userName, detail: ([, changes]) => ({ fields: fieldsOf(changes), ...(changes.permissions ? { permissions: changes.permissions } : {}) }) },
    delete: { action: 'user.delete', targetType: 'user', nameBefore: userName },
    changePassword: { action: 'user.password', targetType: 'user', nameBefore: userName },
  };
  const roles: AuditSpecs<RoleService> = {
    create: { action: 'role.create', targetType: 'role', target: ([input], r) => ({ id: r?.id ?? null, name: r?.name ?? input.name }), detail: ([input]) => ({ permissionIds: input.permissionIds }) },
    update: { action: 'role.update', targetType: 'role', nameBefore: roleName, detail: ([, input]) => ({ fields: fieldsOf(input), ...(input.permissionIds ? { permissionIds: input.permissionIds } : {}) }) },
    delete: { action: 'role.delete', targetType: 'role', nameBefore: roleName },
  };
  const resourcePools: AuditSpecs<ResourcePoolService> = {
    create: { action: 'resourcepool.create', targetType: 'resourcepool', target: ([input], r) => ({ id: r?.id ?? null, name: r?.name ?? input.name }) },
    update: { action: 'resourcepool.update', targetType: 'resourcepool', nameBefore: poolName, detail: ([, input]) => ({ fields: fieldsOf(input) }) },
    delete: { action: 'resourcepool.delete', targetType: 'resourcepool', nameBefore: poolName },
  };
  // The key itself is in the answer only: the log names the key's id, name and owner.
  const apiKeys: AuditSpecs<ApiKeyService> = {
    create: {
      action: 'apikey.create', targetType: 'apikey',
      target: ([input], r) => ({ id: r?.apiKey.id ?? null, name: r?.apiKey.name ?? input.name }),
      detail: ([input], r) => ({ userId: r?.apiKey.userId ?? input.userId ?? null, readOnly: input.readOnly ?? false }),
    },
    revoke: { action: 'apikey.revoke', targetType: 'apikey', nameBefore: keyName },
  };
  // A directory's bind password is one of its fields: named in `fields`, never recorded.
  const directories: AuditSpecs<DirectoryService> = {
    register: { action: 'directory.create', targetType: 'directory', target: ([input], r) => ({ id: r?.id ?? null, name: r?.name ?? input.name }) },
    update: { action: 'directory.update', targetType: 'directory', nameBefore: directoryName, detail: ([, changes]) => ({ fields: fieldsOf(changes) }) },
    delete: { action: 'directory.delete', targetType: 'directory', nameBefore: directoryName },
    addMapping: { action: 'directory.mapping.create', targetType: 'directory', nameBefore: directoryName, detail: ([, input]) => ({ groupDn: input.groupDn }) },
    deleteMapping: { action: 'directory.mapping.delete', targetType: 'directory', nameBefore: directoryName, detail: ([, mappingId]) => ({ mappingId }) },
  };
  const appservers: AuditSpecs<AppServerService> = {
    register: {
      action: 'appserver.register', targetType: 'appserver',
      target: ([input], r) => ({ id: r?.id ?? null, name: r?.name ?? input.name ?? input.hostAddress }),
      detail: ([input]) => ({ hostAddress: input.hostAddress, applicationType: input.applicationType }),
    },
    registerMany: {
      action: 'appserver.register', targetType: 'appserver',
      target: (_, r) => ({ name: r ? r.servers.map((s) => s.name).slice(0, 20).join(', ') + (r.servers.length > 20 ? ', …' : '') : null }),
      detail: ([entries], r) => ({ bulk: entries.length, ...(r ? { ids: r.servers.slice(0, 100).map((s) => s.id) } : {}) }),
    },
    update: { action: 'appserver.update', targetType: 'appserver', nameBefore: serverName, detail: ([, changes]) => ({ fields: fieldsOf(changes) }) },
    unregister: { action: 'appserver.unregister', targetType: 'appserver', nameBefore: serverName },
    inventory: { action: 'appserver.inventory', targetType: 'appserver', nameBefore: serverName },
  };
  const identities: AuditSpecs<IdentityService> = {
    create: {
      action: 'identity.create', targetType: 'identity',
      target: ([input], r) => ({ id: r?.id ?? null, name: r?.name ?? input.name ?? input.username }),
      detail: ([input, kind]) => ({ kind, username: input.username }),
    },
    delete: { action: 'identity.delete', targetType: 'identity', nameBefore: identityName },
  };
  const jobs: AuditSpecs<JobService> = {
    start: { ...job('job.start'), detail: ([, trigger, appserverIds], r) => ({ trigger: trigger ?? 'manual', ...(appserverIds ? { appserverIds } : {}), ...(r ? { sessionId: r.session.id } : {}) }) },
    cancel: job('job.cancel'),
    hold: job('job.hold'),
    release: job('job.release'),
    setTrigger: {
      ...job('job.trigger'),
      detail: ([, t]) => ({
        ...(t.time !== undefined ? { time: typeof t.time === 'string' || t.time === null ? t.time : '(invalid)' } : {}),
        ...(typeof t.timezone === 'string' ? { timezone: t.timezone } : {}),
        ...(t.missedRun !== undefined ? { missedRun: typeof t.missedRun === 'string' ? t.missedRun : '(invalid)' } : {}),
      }),
    },
    delete: job('job.delete'),
  };
  const sessions: AuditSpecs<SessionService> = {
    cancel: { action: 'job.cancel', targetType: 'jobsession', target: ([id], r) => ({ id, name: r?.jobName ?? null }) },
  };
  return { users, roles, resourcePools, apiKeys, directories, appservers, identities, jobs, sessions };
}
