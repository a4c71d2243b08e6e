/**
 * Turns whatever `mysql2` or the server threw into a CollectorError. The engine decides on
 * retries from the code alone and shows the message to people, so each message names the server
 * and the reason, and never carries the password.
 *
 * Server errors are matched by their numeric errno, not by mysql2's `code` string: mysql2 names
 * errnos from MySQL's list, and MariaDB reuses some numbers above 1900 for other errors (4151 is
 * MariaDB's "account is locked" but MySQL's ER_BULK_PARSER_INCOMPLETE_ESCAPE_SEQUENCE).
 */

import { classifyNetworkError, describeServer, errorCode, errorMessage } from '../network-errors.ts';
import { CollectorError, type CollectTarget } from '../types.ts';

const WHAT = 'MySQL/MariaDB server';

/** Login refused: wrong password, unknown user, a plugin we cannot speak, an expired or locked account. */
const ER_ACCESS_DENIED = 1045;
const ER_HOST_NOT_PRIVILEGED = 1130; // no account matches the host we connect from
const ER_NOT_SUPPORTED_AUTH_MODE = 1251;
const ER_ACCESS_DENIED_NO_PASSWORD = 1698; // e.g. root with unix_socket/auth_socket over TCP
const ER_MUST_CHANGE_PASSWORD = 1820;
const ER_MUST_CHANGE_PASSWORD_LOGIN = 1862;
const ER_ACCOUNT_HAS_BEEN_LOCKED_MYSQL = 3118;
const ER_ACCOUNT_HAS_BEEN_LOCKED_MARIADB = 4151;

/** Logged in, but not allowed to do what we asked. */
const PERMISSION_ERRNOS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1143, // ER_COLUMNACCESS_DENIED_ERROR
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR ("you need (at least one of) the X privilege(s)")
  1370, // ER_PROCACCESS_DENIED_ERROR
]);

/** The server is there but will not take a connection right now: worth trying again later. */
const BUSY_ERRNOS = new Set([
  1040, // ER_CON_COUNT_ERROR: max_connections reached
  1203, // ER_TOO_MANY_USER_CONNECTIONS: max_user_connections reached
  1053, // ER_SERVER_SHUTDOWN
  3032, // ER_SERVER_OFFLINE_MODE (MySQL offline_mode)
]);

const ER_HOST_IS_BLOCKED = 1129;
const ER_HANDSHAKE_ERROR = 1043;
const ER_SECURE_TRANSPORT_REQUIRED = 3159;
/** Server-side statement time limits: MySQL's MAX_EXECUTION_TIME, MariaDB's max_statement_time. */
const ER_QUERY_TIMEOUT_MYSQL = 3024;
const ER_STATEMENT_TIMEOUT_MARIADB = 1969;

/** mysql2's own codes for a TLS handshake that could not happen. */
const DRIVER_TLS_CODES = new Set(['HANDSHAKE_NO_SSL_SUPPORT', 'HANDSHAKE_SSL_ERROR']);
/** mysql2's own codes for an authentication exchange it could not carry out. */
const DRIVER_AUTH_CODES = new Set(['AUTH_SWITCH_PLUGIN_ERROR', 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED']);
/** Node's codes when mysql2 reads past the end of a packet: the bytes were not MySQL protocol. */
const MALFORMED_PACKET_CODES = new Set(['ERR_OUT_OF_RANGE', 'ERR_BUFFER_OUT_OF_BOUNDS']);

/** The numeric server errno of a mysql2 error, if the server sent one. */
export function mysqlErrno(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const errno = (err as { errno?: unknown }).errno;
  return typeof errno === 'number' ? errno : undefined;
}

/**
 * True when the error came from the server as an ERR packet in answer to a statement, so the
 * session is still usable (as opposed to a lost or broken connection, which mysql2 marks fatal).
 */
export function isStatementError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  return mysqlErrno(err) !== undefined && (err as { fatal?: unknown }).fatal !== true;
}

/** True for "access denied" answers to a statement: the login lacks a privilege. */
export function isPermissionError(err: unknown): boolean {
  const errno = mysqlErrno(err);
  return errno !== undefined && PERMISSION_ERRNOS.has(errno);
}

/** True when a statement was stopped by a client or server time limit. */
export function isStatementTimeout(err: unknown): boolean {
  const errno = mysqlErrno(err);
  return (
    errorCode(err) === 'PROTOCOL_SEQUENCE_TIMEOUT' || errno === ER_QUERY_TIMEOUT_MYSQL || errno === ER_STATEMENT_TIMEOUT_MARIADB
  );
}

/** `target.port` should already carry the default port so the message shows where we went. */
export function classifyMysqlError(err: unknown, target: CollectTarget): CollectorError {
  if (err instanceof CollectorError) return err;

  const server = describeServer(target);
  const detail = errorMessage(err, target);
  const errno = mysqlErrno(err);
  const user = `"${target.username}"`;

  if (errno !== undefined) {
    if (errno === ER_ACCESS_DENIED) {
      return new CollectorError('AUTH', `access denied for user ${user} on ${server}: wrong password, or no such user for this host`);
    }
    if (errno === ER_ACCESS_DENIED_NO_PASSWORD) {
      return new CollectorError(
        'AUTH',
        `access denied for user ${user} on ${server}: the account does not log in with a password (e.g. unix_socket/auth_socket)`,
      );
    }
    if (errno === ER_HOST_NOT_PRIVILEGED) {
      return new CollectorError('AUTH', `${server} has no account that lets user ${user} connect from this host: ${detail}`);
    }
    if (errno === ER_NOT_SUPPORTED_AUTH_MODE) {
      return new CollectorError('AUTH', `user ${user} on ${server} uses an authentication method the client cannot speak: ${detail}`);
    }
    if (errno === ER_MUST_CHANGE_PASSWORD || errno === ER_MUST_CHANGE_PASSWORD_LOGIN) {
      return new CollectorError('AUTH', `the password of user ${user} on ${server} has expired and must be changed`);
    }
    if (errno === ER_ACCOUNT_HAS_BEEN_LOCKED_MYSQL || (errno === ER_ACCOUNT_HAS_BEEN_LOCKED_MARIADB && /locked/i.test(detail))) {
      return new CollectorError('AUTH', `the account of user ${user} on ${server} is locked`);
    }
    if (PERMISSION_ERRNOS.has(errno)) {
      return new CollectorError('PERMISSION', `permission denied for user ${user} on ${server}: ${detail}`);
    }
    if (BUSY_ERRNOS.has(errno)) {
      return new CollectorError('REFUSED', `${server} is not accepting connections right now: ${detail}`);
    }
    if (errno === ER_HOST_IS_BLOCKED) {
      // Retrying from the same host only adds to the count; an administrator must run FLUSH HOSTS.
      return new CollectorError(
        'PERMISSION',
        `${server} blocks this host after too many failed connections (max_connect_errors); an administrator must run FLUSH HOSTS: ${detail}`,
      );
    }
    if (errno === ER_SECURE_TRANSPORT_REQUIRED || /secure transport|SSL connection is required/i.test(detail)) {
      return new CollectorError('TLS', `${server} only accepts TLS connections: ${detail}`);
    }
    if (errno === ER_QUERY_TIMEOUT_MYSQL || errno === ER_STATEMENT_TIMEOUT_MARIADB) {
      return new CollectorError('TIMEOUT', `a query on ${server} ran past the deadline: ${detail}`);
    }
    if (errno === ER_HANDSHAKE_ERROR) {
      return new CollectorError('PROTOCOL', `${server} rejected the handshake: ${detail}`);
    }
  }

  const network = classifyNetworkError(err, target, WHAT);
  if (network) return network;

  const code = errorCode(err);
  if (code !== undefined) {
    if (code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
      return new CollectorError('TIMEOUT', `a query on ${server} ran past the deadline (${code})`);
    }
    if (code === 'PROTOCOL_CONNECTION_LOST') {
      return new CollectorError(
        'PROTOCOL',
        `${server} closed the connection unexpectedly: it dropped the session, or what listens there is not a ${WHAT}`,
      );
    }
    if (DRIVER_TLS_CODES.has(code)) {
      return new CollectorError('TLS', `TLS negotiation with ${server} failed (${code}): ${detail}`);
    }
    if (DRIVER_AUTH_CODES.has(code)) {
      return new CollectorError('AUTH', `authentication of user ${user} on ${server} failed (${code}): ${detail}`);
    }
    if (code.startsWith('PROTOCOL_') || code === 'HANDSHAKE_UNKNOWN_ERROR' || MALFORMED_PACKET_CODES.has(code)) {
      return new CollectorError('PROTOCOL', `${server} did not answer like a ${WHAT} (${code}): ${detail}`);
    }
  }
  if (/unexpected packet/i.test(detail)) {
    return new CollectorError('PROTOCOL', `${server} did not answer like a ${WHAT}: ${detail}`);
  }
  return new CollectorError('UNKNOWN', `collecting from ${WHAT} ${server} failed: ${detail}`);
}
