import { randomBytes } from 'node:crypto';

/** Login session id: 32 lowercase hex characters, as SPP hands out. */
export const newLoginSessionId = (): string => randomBytes(16).toString('hex');

// A log id's last 8 bytes: 5 random bytes drawn once per process, then a 3-byte counter that
// starts at a random value, as a MongoDB ObjectId is made. Unique across the processes writing
// one database (server and workers) without drawing random bytes for every entry, which cost
// more than the rest of writing an entry's row.
const processPart = randomBytes(5).toString('hex');
let counter = randomBytes(3).readUIntBE(0, 3);

/**
 * Log record id: 24 hex characters like a MongoDB ObjectId (SPP's log ids look like that):
 * 4 bytes of seconds, 5 bytes of this process, 3 bytes of a counter, so ids sort roughly by time.
 */
export function newLogId(nowMs: number): string {
  counter = (counter + 1) & 0xffffff;
  const head = Math.floor(nowMs / 1000).toString(16).padStart(8, '0').slice(-8);
  return head + processPart + counter.toString(16).padStart(6, '0');
}
