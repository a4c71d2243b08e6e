/**
 * What sppmon does with an answer, for the tests that replay its calls (test/clients/): page by
 * following `links.nextPage.href`, keep the (dotted) fields it reads, and, for the VM catalog,
 * the statistics it stores. Written from the spec (§8.1, §11.3), not from sppmon's code.
 */
import { expect } from 'vitest';
import type { Reply, TestServer } from './server.ts';

/**
 * sppmon's paging: GET the first page, then follow `links.nextPage.href` (absolute; it re-sends
 * the href's own query, and may overwrite pageSize) until it is absent. Each page must be 200
 * with the array under `key`.
 */
export async function followPages(srv: TestServer, sid: string, first: string, key: string, overridePageSize?: number) {
  const items: Record<string, unknown>[] = [];
  const pages: Reply[] = [];
  let path: string | undefined = first;
  while (path) {
    const r = await srv.req('GET', path, { sid });
    expect(r.status, `${path}: ${r.text.slice(0, 300)}`).toBe(200);
    expect(Array.isArray(r.json?.[key]), `${key} array in ${path}`).toBe(true);
    pages.push(r);
    items.push(...r.json[key]);
    const next: string | undefined = r.json.links?.nextPage?.href;
    if (next === undefined) break;
    const url = new URL(next);
    // The href is absolute and points back at the address the client used.
    expect(`${url.protocol}//${url.host}`).toBe(srv.url);
    if (overridePageSize !== undefined) url.searchParams.set('pageSize', String(overridePageSize));
    path = url.pathname + url.search;
    expect(pages.length, 'paging does not end').toBeLessThan(200);
  }
  return { items, pages };
}

/** The dotted paths (`capacity.free`) a record lacks: sppmon reads each, so each must be there (null is a value). */
export function missingFields(record: unknown, paths: readonly string[]): string[] {
  return paths.filter((p) => {
    let at: unknown = record;
    for (const part of p.split('.')) {
      if (at === null || typeof at !== 'object' || !Object.hasOwn(at, part)) return true;
      at = (at as Record<string, unknown>)[part];
    }
    return false;
  });
}

/** Makes a user holding only the built-in Monitor role (sppmon's least-privilege account) and sets its first password. */
export async function makeMonitorUser(srv: TestServer, adminSid: string, name: string, password: string): Promise<void> {
  const made = await srv.req('POST', '/api/security/user', { sid: adminSid, body: { name, password: `First-${password}`, permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } });
  expect(made.status, made.text).toBe(201);
  const first = await srv.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: name, password: `First-${password}` }, body: { newPassword: password } });
  expect(first.status, first.text).toBe(200);
  await srv.req('DELETE', '/api/endeavour/session', { sid: first.json.sessionid });
}

/** What sppmon stores about the VM catalog as a whole, from `children` of /api/endeavour/catalog/hypervisor/vm. */
export interface VmStatistics {
  vms: number;
  poweredOn: number;
  poweredOff: number;
  /** Neither on nor off (suspended, paused, unknown, null). */
  otherPowerState: number;
  protected: number;
  encrypted: number;
  /** Sums in bytes over the VMs that report the figure; `…Unknown` counts those that do not (null). */
  commited: number;
  commitedUnknown: number;
  uncommited: number;
  uncommitedUnknown: number;
  shared: number;
  sharedUnknown: number;
  cpus: number;
  memory: number;
  byHypervisorType: Record<string, number>;
}

/** `poweredOn`, `POWERED_ON`, `powered on` → `poweredon`. */
const powerWord = (v: unknown) => (typeof v === 'string' ? v.toLowerCase().replace(/[^a-z]/g, '') : '');

/**
 * The VM statistics sppmon computes from the catalog answer: how many VMs, how many powered on
 * and off, protected and encrypted, and the sums of their storage (committed, uncommitted,
 * shared), vCPUs and memory. A null figure is left out of its sum and counted as unknown, never
 * taken as 0. To be checked against the libvirt fixture's known domains at integration.
 */
export function vmStatistics(children: readonly Record<string, unknown>[]): VmStatistics {
  const s: VmStatistics = {
    vms: 0, poweredOn: 0, poweredOff: 0, otherPowerState: 0, protected: 0, encrypted: 0,
    commited: 0, commitedUnknown: 0, uncommited: 0, uncommitedUnknown: 0, shared: 0, sharedUnknown: 0,
    cpus: 0, memory: 0, byHypervisorType: {},
  };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  for (const vm of children) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const p = (vm.properties ?? {}) as Record<string, any>;
    s.vms++;
    const power = powerWord(p.powerSummary?.powerState);
    if (power === 'poweredon' || power === 'on' || power === 'running') s.poweredOn++;
    else if (power === 'poweredoff' || power === 'off' || power === 'shutoff') s.poweredOff++;
    else s.otherPowerState++;
    if (p.isProtected === true) s.protected++;
    if (vm.isEncrypted === true) s.encrypted++;
    for (const k of ['commited', 'uncommited', 'shared'] as const) {
      const v = num(p.storageSummary?.[k]);
      if (v === null) s[`${k}Unknown`]++;
      else s[k] += v;
    }
    s.cpus += num(p.cpu) ?? 0;
    s.memory += num(p.memory) ?? 0;
    const type = typeof p.hypervisorType === 'string' ? p.hypervisorType : 'unknown';
    s.byHypervisorType[type] = (s.byHypervisorType[type] ?? 0) + 1;
  }
  return s;
}
