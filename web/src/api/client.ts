/**
 * The one way the UI talks to Census: adds the login session header, turns SPP's error bodies
 * ({id, description}, or under /ngp {statusCode, response: {id, description}}) into ApiError,
 * and sends the person to the login page on any 401, remembering where they were.
 */
import { closeEvents } from '../lib/events';
import { navigate } from '../lib/router';

const SESSION_KEY = 'census.sessionid';
const USER_KEY = 'census.user';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** SPP's error id, e.g. XSBInvalidArgumentException; '' when the body had none. */
    readonly id: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'ApiError';
  }

  /** A 401 the client has already handled by going to the login page: nothing to show. */
  get isUnauthorized(): boolean {
    return this.status === 401;
  }
}

export const sessionId = (): string | null => sessionStorage.getItem(SESSION_KEY);
export const userName = (): string | null => sessionStorage.getItem(USER_KEY);

function forgetSession(): void {
  // The live event stream belongs to the login session.
  closeEvents();
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(USER_KEY);
}

/** The login page's address that comes back to the current page. */
export function loginPath(next = location.pathname + location.search): string {
  return next && next !== '/' && !next.startsWith('/login') ? `/login?next=${encodeURIComponent(next)}` : '/login';
}

/** Only a path of this UI may be a place to return to (never another site). */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/';
}

/** Links in SPP's answers are absolute; the UI always asks its own origin for their path. */
export function localPath(href: string): string {
  if (href.startsWith('/')) return href;
  const u = new URL(href);
  return u.pathname + u.search;
}

function errorFrom(status: number, body: unknown, fallback: string): ApiError {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const inner = b.response && typeof b.response === 'object' ? (b.response as Record<string, unknown>) : undefined;
    const id = String(b.id ?? inner?.id ?? '');
    const description = b.description ?? inner?.description ?? b.message;
    if (typeof description === 'string' && description) return new ApiError(status, id, description);
  }
  return new ApiError(status, '', fallback);
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

let redirecting = false;

function toLogin(): void {
  if (redirecting || location.pathname === '/login') return;
  redirecting = true;
  forgetSession();
  navigate(loginPath(), { replace: true });
  // Let the next failing request redirect again only after this one has taken effect.
  queueMicrotask(() => (redirecting = false));
}

export interface CallOptions {
  body?: unknown;
  signal?: AbortSignal;
}

/** Calls the API with the login session; resolves with the parsed JSON (undefined for 204). */
export async function api<T = unknown>(method: string, path: string, o: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const sid = sessionId();
  if (sid) headers['X-Endeavour-Sessionid'] = sid;
  if (o.body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(localPath(path), {
      method,
      headers,
      body: o.body === undefined ? null : JSON.stringify(o.body),
      signal: o.signal ?? null,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, '', 'Census cannot be reached. Check that the server is running and the network is up.');
  }
  const body = await readBody(res);
  if (res.status === 401) {
    toLogin();
    throw errorFrom(401, body, 'Your session has ended. Log in again.');
  }
  if (!res.ok) throw errorFrom(res.status, body, `Census answered ${res.status} ${res.statusText || ''}`.trim());
  return body as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, signal ? { signal } : {});
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body === undefined ? {} : { body });
export const del = (path: string) => api<void>('DELETE', path);
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, { body });

/**
 * Downloads a file the API makes (e.g. the audit log as CSV) with the login session: a link
 * cannot send the session header, and the session never goes into an address. Saves it under
 * the server's file name (Content-Disposition) or `fallbackName`.
 */
export async function download(path: string, fallbackName: string): Promise<void> {
  const headers: Record<string, string> = {};
  const sid = sessionId();
  if (sid) headers['X-Endeavour-Sessionid'] = sid;
  let res: Response;
  try {
    res = await fetch(localPath(path), { headers, cache: 'no-store' });
  } catch {
    throw new ApiError(0, '', 'Census cannot be reached. Check that the server is running and the network is up.');
  }
  if (!res.ok) {
    const body = await readBody(res);
    if (res.status === 401) toLogin();
    throw errorFrom(res.status, body, `Census answered ${res.status} ${res.statusText || ''}`.trim());
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  try {
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    // The click has handed the file to the browser; the address is not needed after this task.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

/** A login refused because the user must set a new password first (a new user, or one reset by an admin). */
export const isPasswordExpired = (err: unknown): boolean => err instanceof ApiError && err.status === 401 && /expired/i.test(err.description);

/**
 * Logs in with HTTP Basic (SPP's only login) and keeps the session for this browser tab. With
 * `newPassword`, SPP's first-login flow: the same call sets the new password.
 */
export async function login(user: string, password: string, newPassword?: string): Promise<void> {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  let res: Response;
  try {
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Basic ${btoa(binary)}` };
    if (newPassword !== undefined) headers['Content-Type'] = 'application/json';
    res = await fetch(newPassword === undefined ? '/api/endeavour/session' : '/api/endeavour/session?changePassword=true', {
      method: 'POST',
      headers,
      body: newPassword === undefined ? null : JSON.stringify({ newPassword }),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, '', 'Census cannot be reached. Check that the server is running and the network is up.');
  }
  const body = await readBody(res);
  if (!res.ok) throw errorFrom(res.status, body, `Login failed (${res.status}).`);
  const b = body as { sessionid: string; user?: { name?: string } };
  sessionStorage.setItem(SESSION_KEY, b.sessionid);
  sessionStorage.setItem(USER_KEY, b.user?.name ?? user);
}

/** Ends the login session on the server (best effort) and forgets it here. */
export async function logout(): Promise<void> {
  const sid = sessionId();
  forgetSession();
  if (!sid) return;
  try {
    await fetch('/api/endeavour/session', { method: 'DELETE', headers: { 'X-Endeavour-Sessionid': sid }, cache: 'no-store' });
  } catch {
    // The session times out on its own; nothing else to do.
  }
}

/** A query string with SPP's JSON `filter` and `sort` and paging parameters. */
export function query(q: {
  filter?: { property: string; value: unknown; op?: string }[];
  sort?: { property: string; direction: 'ASC' | 'DESC' }[];
  pageSize?: number;
  pageStartIndex?: number;
}): string {
  const p = new URLSearchParams();
  if (q.filter?.length) p.set('filter', JSON.stringify(q.filter));
  if (q.sort?.length) p.set('sort', JSON.stringify(q.sort));
  if (q.pageSize !== undefined) p.set('pageSize', String(q.pageSize));
  if (q.pageStartIndex !== undefined) p.set('pageStartIndex', String(q.pageStartIndex));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** What to show a person for a failed call. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.description;
  if (err instanceof Error) return err.message;
  return String(err);
}
