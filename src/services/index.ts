/**
 * The service layer: one function per use case, each taking the caller (an Actor) first. Routes
 * parse, call one service and map the answer to the wire; the scheduler and registration-started
 * runs call them as system actors. Services raise DomainErrors (src/core/errors.ts) and never
 * speak HTTP.
 */
import { appServerService } from './appservers.ts';
import { authService, type AuthOptions } from './auth.ts';
import type { ServiceContext } from './context.ts';
import { eventService } from './events.ts';
import { identityService } from './identities.ts';
import { inventoryService } from './inventory.ts';
import { jobService } from './jobs.ts';
import { metricsService } from './metrics.ts';
import { sessionService } from './sessions.ts';
import { resourcePoolService, roleService } from './roles.ts';
import { systemService } from './system.ts';
import { userService } from './users.ts';

/** `auth`: the login policy (and, for tests, the password check and the session cache). */
export function createServices(ctx: ServiceContext, options: { auth?: AuthOptions } = {}) {
  const jobs = jobService(ctx);
  const auth = authService(ctx, options.auth);
  return {
    auth,
    users: userService(ctx, auth),
    roles: roleService(ctx, auth),
    resourcePools: resourcePoolService(ctx, auth),
    appservers: appServerService(ctx, jobs),
    identities: identityService(ctx),
    inventory: inventoryService(ctx),
    jobs,
    sessions: sessionService(ctx),
    events: eventService(ctx),
    metrics: metricsService(ctx),
    system: systemService(ctx),
  };
}

export type Services = ReturnType<typeof createServices>;
export type { ServiceContext } from './context.ts';
export type { AuthOptions, AuthService, Credentials, EndedSessions, LoginPolicy, Principal } from './auth.ts';
export type { AppServerInput, AppServerChanges } from './appservers.ts';
export type { IdentityInput, IdentityKind } from './identities.ts';
export type { UserInput, UserChanges, UserView } from './users.ts';
export type { RoleInput, PoolInput } from './roles.ts';
export type { JobView, TriggerInput, JobService } from './jobs.ts';
export type { SessionService } from './sessions.ts';
export { Scheduler } from './scheduler.ts';
export { EVENT_TYPES, type EventFilter, type EventType, type StoredEvent, type StreamStart, type EventService } from './events.ts';
export { SESSION_BUCKETS, TASK_BUCKETS, type HistogramRow, type StoreFigures } from './metrics.ts';
