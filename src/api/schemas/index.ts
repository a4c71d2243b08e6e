/**
 * The API's schemas, one module per resource: each record is written once, in TypeBox, and from
 * it come request validation (validate.ts), response serialization (fast-json-stringify), the
 * OpenAPI document (src/api/openapi.ts) and the TypeScript types of the wire functions and of the
 * web UI (web/src/api/types.ts imports them as types).
 */
export * from './common.ts';
export * from './route.ts';
export * from './validate.ts';
export * from './jobs.ts';
export * from './sessions.ts';
export * from './inventory.ts';
export * from './identities.ts';
export * from './appservers.ts';
export * from './hypervisors.ts';
export * from './collectors.ts';
export * from './system.ts';
export * from './security.ts';
export * from './apikeys.ts';
export * from './audit.ts';
export * from './alerts.ts';
export * from './ldap.ts';
export * from './sites.ts';
export * from './webhooks.ts';
export * from './smtp.ts';
export * from './sysinfo.ts';
