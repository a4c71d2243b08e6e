/**
 * One rule for the spelling of a request path, applied once before routing (and so before the
 * login check, which asks the route that matched). Whatever a client writes, the router and the
 * check see the same canonical path:
 *
 * - percent-encoded unreserved characters (RFC 3986 §2.3: letters, digits, `-._~`) are decoded,
 *   so `/%61pi/…` is `/api/…`; every other escape is kept, with upper-case hex;
 * - runs of slashes collapse (`//api//endeavour/job/` is what SPP's clients send) and a trailing
 *   slash is dropped;
 * - what could make one path mean another is refused with 400, not guessed at: encoded slashes
 *   and backslashes (`%2F`, `%5C`), a literal backslash, dot segments (`.`, `..`, also when
 *   spelled `%2E`), `;` path parameters, a malformed escape, a NUL or any other control character.
 *
 * The query string is left as it is (the query parser decodes it).
 */

export type PathResult = { ok: true; url: string } | { ok: false; reason: string };

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Whether the path part of `url` is already canonical, in one pass with no allocation: every
 * monitoring client's GET is spelled this way, and the full rule below builds the path again
 * character by character (3 µs of the job status GET). Anything the rule could change or refuse
 * (`%`, `\`, `;`, a control, space or non-ASCII character, `//`, a segment starting with `.`,
 * a trailing slash) sends the URL to the full rule instead, so both give the same answer.
 */
function alreadyCanonical(url: string): boolean {
  if (url.charCodeAt(0) !== 0x2f) return false; // '/'
  let i = 1;
  for (; i < url.length; i++) {
    const code = url.charCodeAt(i);
    if (code === 0x3f) break; // '?': the query is left as it is
    if (code < 0x21 || code > 0x7e || code === 0x25 || code === 0x5c || code === 0x3b) return false; // control, space, non-ASCII, '%', '\', ';'
    // After a slash: another slash (collapsed) or a dot (maybe a dot segment) needs the full rule.
    if (code === 0x2f || code === 0x2e) {
      const prev = url.charCodeAt(i - 1);
      if (prev === 0x2f) return false;
    }
  }
  // A trailing slash (but not the root) is dropped by the full rule.
  return !(i > 1 && url.charCodeAt(i - 1) === 0x2f);
}

export function canonicalPath(url: string): PathResult {
  if (alreadyCanonical(url)) return { ok: true, url };
  const q = url.indexOf('?');
  const raw = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  if (!raw.startsWith('/')) return { ok: false, reason: 'The request path must start with "/".' };

  let path = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    const code = raw.charCodeAt(i);
    if (code < 0x21 || code === 0x7f) return { ok: false, reason: 'The request path holds a control character or a space.' };
    if (c === '\\') return { ok: false, reason: 'The request path holds a backslash.' };
    // Path parameters (`;jsessionid=…`) are read as separators by some proxies and not by others.
    if (c === ';') return { ok: false, reason: 'The request path holds a ";" (path parameters are not used by this API).' };
    if (c !== '%') {
      path += c;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, reason: 'The request path holds a malformed percent escape.' };
    const byte = parseInt(hex, 16);
    if (byte === 0x2f || byte === 0x5c) return { ok: false, reason: 'The request path holds an encoded slash or backslash.' };
    if (byte < 0x20 || byte === 0x7f) return { ok: false, reason: 'The request path holds an encoded control character.' };
    const ch = String.fromCharCode(byte);
    path += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }

  path = path.replace(/\/{2,}/g, '/');
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) {
    return { ok: false, reason: 'The request path holds a "." or ".." segment.' };
  }
  return { ok: true, url: path + query };
}

/**
 * Whether a path that was refused or could not be parsed was meant for the NodeJS layer (its
 * first segment spells `ngp`), so that its error is wrapped the way /ngp errors are.
 */
export const spellsNgp = (url: string) => /^[/\\]*(n|%6e)(g|%67)(p|%70)([/\\;?]|%2f|%5c|$)/i.test(url);

/**
 * An error body in SPP's shape; under the NodeJS layer (/ngp) wrapped its way, as
 * `{statusCode, response}` with `id` and `description` kept on top for core readers.
 */
export function errorPayload(ngp: boolean, status: number, body: { id: string; description: string }) {
  return ngp ? { statusCode: status, response: body, ...body } : body;
}
