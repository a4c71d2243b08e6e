/**
 * Turns whatever `pg` or the server threw into a CollectorError. The engine decides on retries
 * from the code alone and shows the message to people, so each message names the server and the
 * reason, and never carries the password.
 */

import { classifyNetworkError, describeServer, errorCode, errorMessage } from '../network-errors.ts';
import { CollectorError, type CollectTarget } from '../types.ts';

const WHAT = 'PostgreSQL server';

/** pg's own messages (not SQLSTATEs) that mean a client-side timer ran out. */
const PG_TIMEOUT_MESSAGES = ['timeout expired', 'Query read timeout', 'Connection terminated due to connection timeout'];

/** pg's messages when the TLS side of the handshake fails before Node's TLS layer gets a say. */
const PG_TLS_MESSAGES = ['The server does not support SSL connections', 'There was an error establishing an SSL connection'];

/** `target.port` should already carry the default port so the message shows where we went. */
export function classifyPgError(err: unknown, target: CollectTarget): CollectorError {
  if (err instanceof CollectorError) return err;

  const server = describeServer(target);
  const detail = errorMessage(err, target);
  const message = err instanceof Error ? err.message : '';
  const code = errorCode(err);

  // Server errors carry a five-character SQLSTATE; look at those before errno-style codes.
  switch (code) {
    case '28P01':
      return new CollectorError('AUTH', `password authentication failed for user "${target.username}" on ${server}`);
    case '28000':
      // "role does not exist", "no pg_hba.conf entry", ... : the server's text says which.
      return new CollectorError('AUTH', `authentication failed for user "${target.username}" on ${server}: ${detail}`);
    case '42501':
      return new CollectorError('PERMISSION', `permission denied for user "${target.username}" on ${server}: ${detail}`);
    case '3D000':
      // Only reaches here once the fallback database (template1) is missing too: nowhere to log in.
      return new CollectorError(
        'PERMISSION',
        `no database to connect to on ${server} (neither "postgres" nor "template1" exists): ${detail}`,
      );
    case '57014':
      // query_canceled: our statement_timeout fired on the server (an admin's cancel is UNKNOWN).
      if (message.includes('statement timeout')) {
        return new CollectorError('TIMEOUT', `a query on ${server} ran past the deadline: ${detail}`);
      }
      break;
    case '53300':
    case '57P03':
      // Too many connections / server starting up or shutting down: temporary, worth a retry.
      return new CollectorError('REFUSED', `${server} is not accepting connections right now: ${detail}`);
  }

  const network = classifyNetworkError(err, target, WHAT);
  if (network) return network;

  if (PG_TIMEOUT_MESSAGES.includes(message)) {
    return new CollectorError('TIMEOUT', `timed out talking to ${WHAT} ${server} (${detail})`);
  }
  if (PG_TLS_MESSAGES.includes(message)) {
    return new CollectorError('TLS', `TLS negotiation with ${server} failed: ${detail}`);
  }
  if (message.startsWith('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be')) {
    // pg checks this client-side when the server asks for SCRAM and we have no password.
    return new CollectorError('AUTH', `${server} requires a password for user "${target.username}" and none was given`);
  }
  if (message.startsWith('SASL:')) {
    return new CollectorError('AUTH', `SCRAM authentication for user "${target.username}" on ${server} failed: ${detail}`);
  }
  if (message.startsWith('Received unexpected')) {
    return new CollectorError('PROTOCOL', `${server} did not answer like a ${WHAT}: ${detail}`);
  }
  return new CollectorError('UNKNOWN', `collecting from ${WHAT} ${server} failed: ${detail}`);
}
