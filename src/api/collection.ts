/**
 * The collection envelope every SPP list shares: `{links, total, page, <key>: [...]}` with
 * `nextPage`/`lastPage` links only when there is more, built from the request's own URL so a
 * client can follow them (spec §1.5, §1.6).
 */
import type { FastifyRequest } from 'fastify';
import { pageNumber, parseFilter, parsePaging, parseSort, toConditions, toOrder, type Criterion, type FieldMap, type ListQuery, type Paging, type SortKey } from '../core/query.ts';
import { baseUrl, link, type Links } from './links.ts';

export interface CollectionQuery {
  criteria: Criterion[];
  sort: SortKey[];
  paging: Paging;
}

type Query = Record<string, string | string[] | undefined>;

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[v.length - 1] : v);

export function readCollectionQuery(req: FastifyRequest): CollectionQuery {
  const q = (req.query ?? {}) as Query;
  return {
    criteria: parseFilter(one(q.filter)),
    sort: parseSort(one(q.sort)),
    paging: parsePaging(one(q.pageSize), one(q.pageStartIndex)),
  };
}

export function toListQuery(c: CollectionQuery, fields: FieldMap, defaultSort: SortKey[] = []): ListQuery {
  const order = toOrder(c.sort.length ? c.sort : defaultSort, fields);
  return { where: toConditions(c.criteria, fields), order, limit: c.paging.pageSize, offset: c.paging.pageStartIndex };
}

/** Same URL with pageStartIndex moved; every other parameter is kept as the client sent it. */
function pageHref(req: FastifyRequest, start: number, pageSize: number): string {
  const url = new URL(req.url, baseUrl(req));
  url.searchParams.set('pageSize', String(pageSize));
  url.searchParams.set('pageStartIndex', String(start));
  return url.toString();
}

export function envelope(
  req: FastifyRequest,
  key: string,
  items: unknown[],
  total: number,
  paging: Paging,
  extraLinks: Links = {},
): Record<string, unknown> {
  const base = baseUrl(req);
  const path = req.url.split('?')[0] ?? '';
  const links: Links = {
    self: { href: base + req.url, rel: 'self' },
    up: link(base, path.replace(/\/[^/]*$/, '') || '/', 'up'),
    ...extraLinks,
  };
  const { pageSize, pageStartIndex } = paging;
  if (pageStartIndex + pageSize < total) {
    links.nextPage = { href: pageHref(req, pageStartIndex + pageSize, pageSize), rel: 'next' };
    const lastStart = pageStartIndex + Math.floor((total - 1 - pageStartIndex) / pageSize) * pageSize;
    links.lastPage = { href: pageHref(req, lastStart, pageSize), rel: 'last' };
  }
  return { links, total, page: pageNumber(paging), [key]: items };
}
