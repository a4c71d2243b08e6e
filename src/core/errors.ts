/**
 * Domain errors: what went wrong, in Census's terms. Every layer below the API throws these; only
 * the API turns them into SPP's `{id, description}` and an HTTP status (src/api/errors.ts), so a
 * service can be called from the CLI, the scheduler or a test without speaking HTTP.
 *
 * `kind` says what sort of failure it is (and so, on the wire, which status and SPP exception);
 * `code` is a stable name for the particular rule that failed ('appserver.duplicate', …), for
 * callers that branch on it and for logs. `description` is for a person.
 */
export type ErrorKind =
  | 'invalid' // the input breaks a rule: 400 XSBInvalidArgumentException
  | 'not-found' // no such object (or not visible to the caller): 404 XSBObjectNotFoundException
  | 'conflict' // clashes with what exists: 409 XSBConflictException
  | 'not-allowed' // valid, but this object never allows it: 400 XSBOperationNotAllowedException
  | 'forbidden' // the caller lacks the permission: 403 XSBAccessDeniedException
  | 'unauthenticated' // who is asking is not known (a failed login, no session, an ended one): 401
  | 'rate-limited'; // too many attempts, try again later (RateLimitedError): 429 XSBTooManyLoginAttemptsException

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'DomainError';
  }
}

export const invalid = (description: string, code = 'invalid-argument') => new DomainError('invalid', code, description);

export const notFound = (what: string, key: string | number) =>
  new DomainError('not-found', 'not-found', `${what} ${JSON.stringify(String(key))} does not exist.`);

export const conflict = (description: string, code = 'conflict') => new DomainError('conflict', code, description);

export const notAllowed = (description: string, code = 'not-allowed') => new DomainError('not-allowed', code, description);

export const forbidden = (description: string, code = 'forbidden') => new DomainError('forbidden', code, description);

/**
 * The caller is not known. Codes: 'auth.failed' (a wrong user name or password), 'auth.no-credentials'
 * (a login without them), 'auth.no-session' (no session id given), 'auth.expired' (the session
 * does not exist or went idle too long).
 */
export const unauthenticated = (description: string, code = 'auth.failed') => new DomainError('unauthenticated', code, description);

/** Refused for now: `retryAfterSeconds` says when trying again can succeed. */
export class RateLimitedError extends DomainError {
  constructor(
    code: string,
    description: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate-limited', code, description);
    this.name = 'RateLimitedError';
  }
}

export const rateLimited = (description: string, retryAfterSeconds: number, code = 'rate-limited') =>
  new RateLimitedError(code, description, retryAfterSeconds);
