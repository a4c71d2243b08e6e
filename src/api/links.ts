/**
 * HATEOAS links the way SPP writes them: absolute hrefs built from the request's own scheme and
 * host, so that clients which follow `links.nextPage.href` come back to the address they used.
 */
import type { FastifyRequest } from 'fastify';

export interface Link {
  href: string;
  rel: string;
  title?: string;
}
export type Links = Record<string, Link>;

export function baseUrl(req: FastifyRequest): string {
  const host = req.headers.host ?? `${req.hostname}`;
  return `${req.protocol}://${host}`;
}

export const link = (base: string, path: string, rel = 'related', title?: string): Link =>
  title === undefined ? { href: base + path, rel } : { href: base + path, rel, title };

/** A query string holding a JSON filter, encoded the way SPP's own links are. */
export const filterQuery = (criteria: { property: string; value: unknown; op?: string }[]): string =>
  `filter=${encodeURIComponent(JSON.stringify(criteria))}`;
