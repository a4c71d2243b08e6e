/**
 * Turns whatever ssh2, the socket or the remote command produced into a CollectorError. The engine
 * decides on retries from the code alone and shows the message to people, so each message names
 * the server and the reason, and never carries the password, the passphrase or any key text.
 */

import { classifyNetworkError, describeServer, errorMessage, scrubSecret } from './network-errors.ts';
import { CollectorError, type CollectTarget } from './types.ts';

const WHAT = 'SSH server';

/** What the session knew when it failed: which step, and what the peer had sent. */
export interface FailureContext {
  stage: 'connect' | 'handshake' | 'login' | 'command';
  /** The peer's first line, when it was not an SSH identification ("HTTP/1.1 400 Bad Request"). */
  nonSshGreeting: string | null;
  /** Bytes received from the peer before the failure. */
  bytesReceived: number;
  /** Login methods the server said it accepts (from its last "authentication failed" answer). */
  serverMethods: string[] | null;
  /** The methods we tried. */
  triedMethods: string[];
}

/** Remote text (stderr, a peer's greeting) made fit for a message: one line, printable, short, no secrets. */
export function sanitizeRemoteText(text: string, target: CollectTarget, max = 300): string {
  let clean = scrubSecret(scrubSecret(text, target.password), target.passphrase)
    .replace(/[\r\n\t]+/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x1f\x7f]/g, '?')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (clean.length > max) clean = `${clean.slice(0, max)}...`;
  return clean;
}

export function protocolMismatch(target: CollectTarget, greeting: string): CollectorError {
  return new CollectorError(
    'PROTOCOL',
    `${describeServer(target)} is not an SSH server: it answered "${greeting}" instead of an SSH identification`,
  );
}

/** `target.port` should already carry the default port so the message shows where we went. */
export function classifySshError(err: unknown, target: CollectTarget, context: FailureContext): CollectorError {
  if (err instanceof CollectorError) return err;

  const server = describeServer(target);
  const detail = errorMessage(err, target);
  const message = err instanceof Error ? err.message : '';
  const level = typeof err === 'object' && err !== null ? (err as { level?: unknown }).level : undefined;

  // Whatever went wrong, a peer that greeted with something else is the real story.
  if (context.nonSshGreeting !== null && context.stage !== 'command') {
    return protocolMismatch(target, context.nonSshGreeting);
  }

  const network = classifyNetworkError(err, target, WHAT);
  if (network) return network;

  if (level === 'client-authentication' || message === 'All configured authentication methods failed') {
    return authFailed(target, context);
  }
  if (message === 'Timed out while waiting for handshake') {
    if (context.stage === 'login') return new CollectorError('TIMEOUT', `timed out logging in to ${server}`);
    const why = context.bytesReceived === 0 ? ': the server accepted the TCP connection but never sent an SSH identification' : '';
    return new CollectorError('TIMEOUT', `timed out during the SSH handshake with ${server}${why}`);
  }
  if (message === 'Keepalive timeout') {
    return new CollectorError('TIMEOUT', `${server} stopped answering (SSH keepalive timed out)`);
  }
  if (message === 'Connection lost before handshake') {
    if (context.bytesReceived === 0) {
      // sshd does this when MaxStartups is exceeded or a TCP wrapper / firewall rule denies us:
      // often temporary, so worth a retry.
      return new CollectorError(
        'REFUSED',
        `${server} closed the connection without a word: too many unauthenticated connections (sshd MaxStartups), or an access rule rejects this address`,
      );
    }
    return new CollectorError('PROTOCOL', `${server} closed the connection before the SSH handshake: ${detail}`);
  }
  if (
    level === 'handshake' ||
    level === 'protocol' ||
    message === 'Invalid identification string' ||
    message.startsWith('Handshake failed') ||
    message.startsWith('Bad packet length') ||
    message.startsWith('Max greeting lines exceeded')
  ) {
    return new CollectorError('PROTOCOL', `the SSH handshake with ${server} failed: ${detail}`);
  }
  // The server sent SSH_MSG_DISCONNECT (ssh2 puts the numeric reason in `code`).
  if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number') {
    if (context.stage === 'login') {
      return new CollectorError('AUTH', `${server} ended the session while user "${target.username}" was logging in: ${detail}`);
    }
    return new CollectorError('PROTOCOL', `${server} ended the SSH session: ${detail}`);
  }
  if (message === 'connection closed') {
    switch (context.stage) {
      case 'connect':
      case 'handshake':
        return new CollectorError('PROTOCOL', `${server} closed the connection during the SSH handshake`);
      case 'login':
        return new CollectorError('AUTH', `${server} closed the connection while user "${target.username}" was logging in`);
      case 'command':
        return new CollectorError('UNKNOWN', `${server} closed the connection while the inventory command ran`);
    }
  }
  return new CollectorError('UNKNOWN', `collecting from ${WHAT} ${server} failed: ${detail}`);
}

function authFailed(target: CollectTarget, context: FailureContext): CollectorError {
  const server = describeServer(target);
  let hint = '';
  const offered = context.serverMethods;
  if (offered && offered.length) {
    const usable = context.triedMethods.filter((m) => offered.includes(m));
    if (!usable.length) {
      hint = `: the server does not accept ${context.triedMethods.join(' or ') || 'the given credentials'} for this user (it accepts: ${offered.join(', ')})`;
    }
  }
  const tried = context.triedMethods.length ? ` (tried: ${[...new Set(context.triedMethods)].join(', ')})` : '';
  return new CollectorError('AUTH', `authentication failed for user "${target.username}" on ${server}${tried}${hint}`);
}
