/**
 * Errors on the wire. Services throw DomainErrors (src/core/errors.ts); this is the one place
 * that turns them into SPP's `{id, description}` with an HTTP status. SppError is for what only
 * the HTTP layer knows about — a missing session header, a login that failed, a body that
 * stopped arriving — where SPP has its own exception name.
 */
import { DomainError, type ErrorKind } from '../core/errors.ts';

export class SppError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'SppError';
  }
}

const WIRE: Record<ErrorKind, { status: number; id: string }> = {
  invalid: { status: 400, id: 'XSBInvalidArgumentException' },
  'not-found': { status: 404, id: 'XSBObjectNotFoundException' },
  conflict: { status: 409, id: 'XSBConflictException' },
  'not-allowed': { status: 400, id: 'XSBOperationNotAllowedException' },
  forbidden: { status: 403, id: 'XSBAccessDeniedException' },
  unauthenticated: { status: 401, id: 'XSBAuthenticationException' },
  // The error handler adds Retry-After to every 429 (src/api/server.ts).
  'rate-limited': { status: 429, id: 'XSBTooManyLoginAttemptsException' },
};

/** Codes for which SPP names its own exception, rather than the one of their kind. */
const WIRE_ID_BY_CODE = new Map<string, string>([
  ['auth.no-session', 'XSBMissingSessionidException'],
  ['auth.expired', 'XSBSessionDoesNotExistException'],
]);

/** The status and SPP body of an error a route threw, or undefined for one that is not ours (a bug: 500). */
export function wireError(err: unknown): { status: number; body: { id: string; description: string } } | undefined {
  if (err instanceof SppError) return { status: err.status, body: { id: err.id, description: err.description } };
  if (err instanceof DomainError) {
    const w = WIRE[err.kind];
    return { status: w.status, body: { id: WIRE_ID_BY_CODE.get(err.code) ?? w.id, description: err.description } };
  }
  return undefined;
}
