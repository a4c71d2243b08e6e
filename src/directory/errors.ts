/**
 * What went wrong while talking to a directory server, in Census's terms. A DirectoryError is a
 * DomainError, so the API maps it like any other: the answers about the person logging in
 * (bad-credentials, no-such-user, ambiguous-user) are 'unauthenticated', the rest say the
 * directory as registered cannot be used ('invalid'). A login service should tell the person the
 * same thing for bad-credentials and no-such-user (which of the two it was is for the log).
 *
 * Messages name the server (host:port) and never contain a password: they are built here from
 * fixed text, and a library's message is only appended after every known secret is masked.
 */
import { DomainError } from '../core/errors.ts';

export type DirectoryErrorCode =
  | 'unreachable' // no TCP connection (refused, no route, DNS)
  | 'tls' // TLS failed: handshake, certificate not trusted, StartTLS refused
  | 'bind-failed' // the service account could not bind (wrong DN or password, refused)
  | 'search-failed' // a search was refused (no such base, no access, bad filter on the server)
  | 'bad-credentials' // the user's password is wrong (or empty: refused before any bind)
  | 'no-such-user' // the user filter matched nobody
  | 'ambiguous-user' // the user filter matched more than one entry
  | 'timeout'; // a step did not finish within the deadline

const ABOUT_THE_USER: ReadonlySet<DirectoryErrorCode> = new Set(['bad-credentials', 'no-such-user', 'ambiguous-user']);

export class DirectoryError extends DomainError {
  declare readonly code: DirectoryErrorCode;

  constructor(
    code: DirectoryErrorCode,
    description: string,
    /** The step that failed ('connect', 'the TLS handshake', 'StartTLS', 'the user search', …), when one did. */
    readonly during?: string,
  ) {
    super(ABOUT_THE_USER.has(code) ? 'unauthenticated' : 'invalid', code, description);
    this.name = 'DirectoryError';
  }
}

/** Node's codes for a certificate that does not verify (tls.TLSSocket.authorizationError). */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** The error's own code (Node's `code`), if any. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Is this a TLS failure (a certificate that does not verify, a handshake that failed)? */
export function isTlsFailure(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  if (CERTIFICATE_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return true;
  const name = (err as Error | null)?.name ?? '';
  return name === 'TLSNotSupportedError';
}

export function isUnreachable(err: unknown): boolean {
  return UNREACHABLE_CODES.has(errorCode(err) ?? '');
}

/** A library's message, one line, with every secret masked. */
export function cause(err: unknown, secrets: readonly string[]): string {
  let text = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
  for (const s of secrets) if (s) text = text.split(s).join('***');
  const code = errorCode(err);
  return code && !text.includes(code) ? `${text} (${code})` : text;
}
