import { randomBytes } from 'node:crypto';

/** Login session id: 32 lowercase hex characters, as SPP hands out. */
export const newLoginSessionId = (): string => randomBytes(16).toString('hex');

/**
 * Log record id: 24 hex characters like a MongoDB ObjectId (SPP's log ids look like that):
 * 4 bytes of seconds, then 8 random bytes, so ids sort roughly by time.
 */
export function newLogId(nowMs: number): string {
  const head = Math.floor(nowMs / 1000).toString(16).padStart(8, '0').slice(-8);
  return head + randomBytes(8).toString('hex');
}
