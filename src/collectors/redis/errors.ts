/**
 * Turns whatever the RESP client or the server threw into a CollectorError. The engine decides
 * on retries from the code alone and shows the message to people, so each message names the
 * server and the reason, and never carries the password.
 *
 * Redis error replies start with a word that says their kind (WRONGPASS, NOPERM, LOADING, ...);
 * plain "ERR" replies are told apart by their text.
 */

import { classifyNetworkError, describeServer, errorCode, errorMessage } from '../network-errors.ts';
import { CollectorError, type CollectTarget } from '../types.ts';
import { RedisReplyError, RespProtocolError } from './resp.ts';

export const WHAT = 'Redis server';
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** The user the server checks: "default" when none (or an empty one) is given. */
export function redisUser(target: CollectTarget): string {
  return target.username.trim() === '' ? 'default' : target.username;
}

/** True for a reply saying the command does not exist (not built in, or renamed away on managed Redis). */
export function isUnknownCommand(err: unknown): boolean {
  return err instanceof RedisReplyError && /^ERR unknown (command|subcommand)/i.test(err.message);
}

/** True for a reply saying the login's ACL does not allow the command. */
export function isNoPermission(err: unknown): boolean {
  return err instanceof RedisReplyError && err.prefix === 'NOPERM';
}

/** `target.port` should already carry the default port so the message shows where we went. */
export function classifyRedisError(err: unknown, target: CollectTarget): CollectorError {
  if (err instanceof CollectorError) return err;

  const server = describeServer(target);
  const detail = errorMessage(err, target);
  const user = `"${redisUser(target)}"`;

  if (err instanceof RedisReplyError) {
    switch (err.prefix) {
      case 'WRONGPASS':
        return new CollectorError('AUTH', `authentication failed for user ${user} on ${server}: wrong password, no such user, or the user is disabled`);
      case 'NOAUTH':
        return new CollectorError(
          'AUTH',
          target.password
            ? `${server} did not accept the login of user ${user}: ${detail}`
            : `${server} requires a password and none was given`,
        );
      case 'NOPERM':
        return new CollectorError('PERMISSION', `permission denied for user ${user} on ${server}: ${detail}`);
      case 'DENIED':
        // Protected mode: no password set and a connection from outside loopback.
        return new CollectorError('PERMISSION', `${server} refuses connections from this host: ${detail}`);
      case 'LOADING':
      case 'BUSY':
        // Loading its data set, or stuck in a script: temporary, worth a retry.
        return new CollectorError('REFUSED', `${server} is not answering commands right now: ${detail}`);
    }
    if (/^ERR invalid (password|username-password pair)/i.test(err.message)) {
      // Redis before 6 (and 6.0 for an ACL pair) said this instead of WRONGPASS.
      return new CollectorError('AUTH', `authentication failed for user ${user} on ${server}: wrong password`);
    }
    if (/^ERR max number of clients reached/i.test(err.message)) {
      return new CollectorError('REFUSED', `${server} is not accepting connections right now: ${detail}`);
    }
    return new CollectorError('UNKNOWN', `${server} answered with an error: ${detail}`);
  }

  // A TLS-only port resets a plain connection; say so rather than only "not Redis".
  const reset = RESET_CODES.has(errorCode(err) ?? '');
  if (err instanceof RespProtocolError || reset) {
    if (err instanceof RespProtocolError && err.received !== undefined) {
      return new CollectorError('PROTOCOL', `${server} is not a ${WHAT}: it answered "${errorMessage(new Error(err.received), target)}"`);
    }
    return new CollectorError(
      'PROTOCOL',
      `${server} closed the connection without answering${reset ? ` (${errorCode(err)})` : ''}: what listens there is not a ${WHAT}, or it expects ${
        target.tls && target.tls !== 'disable' ? 'no TLS' : 'TLS'
      }`,
    );
  }
  const network = classifyNetworkError(err, target, WHAT);
  if (network) return network;
  return new CollectorError('UNKNOWN', `collecting from ${WHAT} ${server} failed: ${detail}`);
}
