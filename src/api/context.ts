/** What the route modules share: the services (login sessions among them), the clock, what the collectors are, the version. */
import type { FastifyRequest } from 'fastify';
import { userActor, type Actor } from '../core/actor.ts';
import type { CollectorInfo } from '../core/collector-info.ts';
import type { Clock } from '../core/clock.ts';
import { invalid } from '../core/errors.ts';
import { SppError } from './errors.ts';
import { INT32_MAX } from '../core/query.ts';
import type { Services } from '../services/index.ts';

export interface ApiContext {
  /** The use cases (src/services/): what routes call. */
  services: Services;
  clock: Clock;
  /** What each collector is (src/collectors/registry.ts): the application types Census can inventory. */
  collectors: readonly CollectorInfo[];
  version: { version: string; build: string };
  /** Where links point (`census server --public-url`); unset: see src/api/links.ts. */
  publicUrl?: string;
}

/**
 * Path ids are numeric strings; anything else is a 400 in SPP's shape, not a crash. A number
 * larger than the id column can hold (`max`: INTEGER columns by default, job sessions pass their
 * BIGINT range) names nothing: 404, rather than a database error on PostgreSQL.
 */
export function idParam(req: FastifyRequest, name = 'id', max = INT32_MAX): number {
  const raw = (req.params as Record<string, string>)[name] ?? '';
  if (!/^\d{1,16}$/.test(raw)) throw invalid(`"${raw}" is not a valid id: ids are numbers.`);
  const id = Number(raw);
  if (id > max) throw new SppError(404, 'XSBObjectNotFoundException', `There is no object with id "${raw}".`);
  return id;
}

export function queryParam(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** The body as an object: absent and empty bodies are `{}`, anything that is not an object is a 400. */
export function bodyObject(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null || b === '') return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw invalid('The request body must be a JSON object.');
  return b as Record<string, unknown>;
}

/** The caller, as the services take it. Every route that changes something needs a login session, so a missing one is a 401, never "unknown". */
export async function actorOf(ctx: ApiContext, req: FastifyRequest): Promise<Actor> {
  const p = req.principal;
  if (!p) throw new SppError(401, 'XSBMissingSessionidException', 'This request needs a session.');
  // The name came with the session check: no read of the user on every request.
  return userActor(p.userId, p.name, p.access, req.ip);
}
