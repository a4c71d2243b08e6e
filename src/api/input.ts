/**
 * Reading fields of a body with clear 400s in SPP's shape. A JSON body has been validated (and
 * its loose types decoded) by its route's schema before a handler reads it (src/api/schemas/),
 * so for JSON these checks repeat the schema's; they are what checks the rows of a CSV bulk
 * registration, which are text, and they read "" and null as "not given".
 */
import { invalid, notFound } from '../core/errors.ts';
import { asText, INT32_MAX } from '../core/query.ts';

export type Body = Record<string, unknown>;

export function str(body: Body, key: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw invalid(`"${key}" is required.`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(`"${key}" must be a string.`);
  if (v.length > (opts.max ?? 255)) throw invalid(`"${key}" is longer than ${opts.max ?? 255} characters.`);
  return v;
}

export function bool(body: Body, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw invalid(`"${key}" must be true or false.`);
}

/**
 * A reference to an identity: `{href: ".../api/identity/user/1003"}` (or `.../identity/key/…`),
 * `{id}`, or the href or id itself.
 */
export function identityRef(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const raw = typeof v === 'object' ? ((v as Body).href ?? (v as Body).id) : v;
  const m = /(?:^|\/identity\/(?:user|key)\/)(\d+)\/?$/.exec(asText(raw ?? ''));
  if (!m) throw invalid(`${JSON.stringify(v)} is not a reference to an identity (expected {"href": ".../api/identity/user/ID"}).`);
  // An id past the column's range names no identity (and PostgreSQL would reject the lookup).
  if (Number(m[1]) > INT32_MAX) throw notFound('Identity', m[1]!);
  return Number(m[1]);
}
