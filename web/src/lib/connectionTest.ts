/**
 * Runs a server's connection test (an application server's or a hypervisor's `?action=test`):
 * SPP answers with a status link to poll while the tests run; Census usually has them all at
 * once, so the loop rarely turns.
 */
import { get, post } from '../api/client';
import type { ConnectionTest } from '../api/types';

const POLL_MS = 1_000;
const MAX_POLLS = 30;

export async function runConnectionTest(href: string, body?: unknown): Promise<ConnectionTest> {
  let r = await post<ConnectionTest>(href, body);
  for (let i = 0; !r.testsComplete && r.statusHref && i < MAX_POLLS; i++) {
    await new Promise((ok) => window.setTimeout(ok, POLL_MS));
    r = await get<ConnectionTest>(r.statusHref);
  }
  return r;
}
