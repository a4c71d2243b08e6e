/**
 * The web UI (web/, built by Vite into web/dist) served by Census itself at `/`, on the API's
 * port: no second process, nothing from the internet. The files are public; the UI logs in
 * through the API like any other client (only /api and /ngp need a session).
 *
 * - Hashed build output under /assets/ is cached for a year (immutable): a new build has new names.
 * - index.html is never cached, so a new build is picked up at the next load.
 * - A GET of one of the UI's pages that names no file gets index.html (history routing:
 *   /jobs/sessions/123 is a page of the UI, not a file); anything else is a 404.
 * - Without a build (web/dist missing) `/` says how to build it rather than failing.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** web/dist of the package: two levels up from src/api/web.ts (tsx) and from dist/api/web.js (built). */
export const DEFAULT_WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const ONE_YEAR_S = 365 * 24 * 3600;

/** Headers for every UI file: the UI loads only its own files and talks only to its own server. */
function securityHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  reply.header(
    'content-security-policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  );
}

/** The UI's pages and files are not part of the API description (src/api/openapi.ts). */
/** They need no login session either (src/api/access.ts): the UI logs in through the API. */
const HIDDEN = { schema: { hide: true, security: [] } };

const isApiPath = (path: string) => /^\/(api|ngp)(\/|$)/.test(path);
/**
 * The UI's own pages (web/src/App.tsx): only these get index.html for history routing. Any other
 * path is a 404, so that no spelling of an API path (`/API/…`, `/api;x/…`) answers 200 with a page.
 */
const isUiPage = (path: string) => path === '/' || /^\/(login|jobs|alerts|manage-protection|system)(\/|$)/.test(path);

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Census</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>Census</h1>
<p>The web UI has not been built. Run <code>npm run build</code> (or <code>npm ci</code>, which builds it)
in the Census folder, then restart Census and reload this page.</p>
<p>The REST API under <code>/api</code> works without it.</p>
</body></html>
`;

export function webRoutes(app: FastifyInstance, distDir: string = DEFAULT_WEB_DIST): void {
  const root = resolve(distDir);
  const index = resolve(root, 'index.html');

  if (!existsSync(index)) {
    const notBuilt = async (req: FastifyRequest, reply: FastifyReply) => {
      if (!isUiPage(req.url.split('?')[0] ?? '')) return reply.callNotFound();
      securityHeaders(reply);
      return reply.code(200).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    };
    app.get('/', HIDDEN, notBuilt);
    app.get('/*', HIDDEN, notBuilt);
    return;
  }

  // Only the reply.sendFile decorator: the routes below decide what is a file and what is a page.
  app.register(fastifyStatic, { root, serve: false, dotfiles: 'ignore', index: false });

  const sendIndex = (reply: FastifyReply) => {
    securityHeaders(reply);
    return reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
  };

  /** The file under the build folder that `path` names, or undefined (never outside the folder). */
  async function fileFor(path: string): Promise<string | undefined> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0')) return undefined;
    const full = resolve(root, '.' + decoded);
    if (!full.startsWith(root + sep)) return undefined;
    try {
      return (await stat(full)).isFile() ? full.slice(root.length + 1).split(sep).join('/') : undefined;
    } catch {
      return undefined;
    }
  }

  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '/';
    // An API path that no API route took: the API's own 404, not the UI.
    if (isApiPath(path)) return reply.callNotFound();
    if (path === '/' || path === '/index.html') return sendIndex(reply);
    const file = await fileFor(path);
    if (file) {
      securityHeaders(reply);
      // Vite puts content-hashed names under assets/; other files (favicon) may change in place.
      reply.header('cache-control', file.startsWith('assets/') ? `public, max-age=${ONE_YEAR_S}, immutable` : 'public, max-age=3600');
      return reply.sendFile(file, root, { cacheControl: false });
    }
    // A missing build file is a 404 (a page's HTML would only confuse the browser there).
    if (!isUiPage(path)) return reply.callNotFound();
    return sendIndex(reply);
  };
  app.get('/', HIDDEN, serve);
  app.get('/*', HIDDEN, serve);
}
