/**
 * Login sessions on the wire (spec §2): the Basic-auth login header and the X-Endeavour-Sessionid
 * header on every other call. What they mean (the checks, the brake on failed logins, the idle
 * timeout) is the auth service's (src/services/auth.ts); the hook in server.ts puts the checked
 * session on the request as `principal`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Credentials, Principal } from '../services/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The user name and password of an `Authorization: Basic …` header; undefined for anything else. */
export function basicCredentials(req: FastifyRequest): Credentials | undefined {
  const m = /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** The session header, whatever case the client wrote it in (Node lower-cases header names). */
export const sessionHeader = (req: { headers: IncomingHttpHeaders }): string | undefined => {
  const v = req.headers['x-endeavour-sessionid'];
  return (Array.isArray(v) ? v[0] : v)?.trim() || undefined;
};
