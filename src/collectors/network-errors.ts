/**
 * Network-level error classification shared by the database collectors (PostgreSQL now, MySQL
 * later). Drivers surface socket and DNS failures as plain Node errors carrying an errno-style
 * `code`; those mean the same thing whatever protocol was going to run on top, so they are
 * classified here once. Protocol-specific codes (SQLSTATE, MySQL errno) stay in each collector.
 */

import { CollectorError, type CollectTarget } from './types.ts';

/** "db1 (127.0.0.1:5432)": every collector message names the server this way. */
export function describeServer(target: CollectTarget): string {
  const address = target.port === null ? target.host : `${target.host}:${target.port}`;
  return `${target.name} (${address})`;
}

/**
 * Remove the password from text that came from a driver or server. Drivers do not normally echo
 * it, but a message that ends up in logs and API responses must never carry it, so we do not rely
 * on that.
 */
export function scrubSecret(text: string, secret: string | null | undefined): string {
  return secret ? text.split(secret).join('***') : text;
}

/** The driver's message, scrubbed; a fallback for anything that is not an Error. */
export function errorMessage(err: unknown, target: CollectTarget): string {
  const raw = err instanceof Error ? err.message : String(err);
  return scrubSecret(scrubSecret(raw, target.password), target.passphrase);
}

/** Node errors carry `code`; with several addresses to try, Node may wrap them in an AggregateError. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = errorCode(inner);
      if (innerCode !== undefined) return innerCode;
    }
  }
  return undefined;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** Node's TLS layer reports certificate problems with OpenSSL's verify codes and handshake problems as ERR_TLS_* / ERR_SSL_*. */
const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'HOSTNAME_MISMATCH',
]);

function isTlsCode(code: string): boolean {
  return TLS_VERIFY_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');
}

/**
 * Classify a socket/DNS/TLS failure. `what` names the kind of server ("PostgreSQL server") for
 * the message. Returns null when the error is not network-level, so the caller goes on with its
 * protocol-specific rules. `target.port` should be the effective port (default applied).
 */
export function classifyNetworkError(err: unknown, target: CollectTarget, what: string): CollectorError | null {
  const code = errorCode(err);
  if (code === undefined) return null;
  const server = describeServer(target);
  const detail = errorMessage(err, target);

  if (code === 'ECONNREFUSED') {
    return new CollectorError(
      'REFUSED',
      `connection refused by ${server}: no ${what} is listening on that port, or a firewall rejects it`,
    );
  }
  if (UNREACHABLE_CODES.has(code)) {
    // The network, not the server, said no; like a refusal this is worth retrying later.
    return new CollectorError('REFUSED', `${server} is unreachable from here (${code}): ${detail}`);
  }
  if (DNS_CODES.has(code)) {
    return new CollectorError('DNS', `cannot resolve host name "${target.host}" of ${server} (${code})`);
  }
  if (TIMEOUT_CODES.has(code)) {
    return new CollectorError('TIMEOUT', `timed out connecting to ${what} ${server} (${code})`);
  }
  if (isTlsCode(code)) {
    return new CollectorError('TLS', `TLS negotiation with ${server} failed (${code}): ${detail}`);
  }
  if (RESET_CODES.has(code)) {
    // Either the server dropped us or the port speaks another protocol; both are protocol-level trouble.
    return new CollectorError(
      'PROTOCOL',
      `${server} reset the connection (${code}): it dropped the session, or what listens there is not a ${what}`,
    );
  }
  return null;
}
