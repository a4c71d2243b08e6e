/**
 * `census vm list`: the VM catalog (GET /api/endeavour/catalog/hypervisor/vm, docs/hypervisors.md),
 * read page by page. The hypervisor and the name pattern are filters the server applies; the
 * power state is not a filter property there, so it is applied here while paging.
 */
import { choice, intOption, str, type Command } from '../command.ts';
import { humanSize, table } from '../format.ts';
import type { Json } from '../http.ts';
import { findHypervisor, POWER_WORDS, VM_CATALOG } from './hypervisors.ts';

const STATES = ['on', 'off', 'suspended'] as const;
const PAGE = 500;

export const vmList: Command = {
  words: ['vm', 'list'],
  synopsis: '[--hypervisor NAME|ID] [--name PATTERN] [--state on|off|suspended] [--limit N]',
  summary: 'list the virtual machines the hypervisor inventories found',
  help: `  --hypervisor H    only the VMs on this hypervisor (name or id)
  --name PATTERN    only VMs with this name; * is a wildcard ("web*"), case is ignored
  --state S         only VMs powered on, off, or suspended
  --limit N         at most N VMs (default: all)
  --json            one JSON array of the VMs as the catalog gives them`,
  options: { hypervisor: { type: 'string' }, name: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' } },
  async run(ctx) {
    const state = choice(ctx, 'state', STATES);
    const limit = intOption(ctx, 'limit', 1, 1_000_000) ?? Infinity;
    const hypervisor = str(ctx, 'hypervisor');
    const name = str(ctx, 'name');
    const api = ctx.api();
    const criteria: { property: string; value: string; op: string }[] = [];
    if (hypervisor !== undefined) criteria.push({ property: 'hypervisorId', value: String((await findHypervisor(api, hypervisor)).id), op: '=' });
    if (name !== undefined && name !== '*') criteria.push({ property: 'name', value: name, op: '=' });
    const filter = criteria.length ? { filter: JSON.stringify(criteria) } : {};

    const vms: Json[] = [];
    for (let start = 0; vms.length < limit;) {
      // Without a state filter every VM counts, so no more than the limit is asked for.
      const size = state ? PAGE : Math.min(PAGE, limit - vms.length);
      const page = await api.get(VM_CATALOG, { ...filter, pageSize: size, pageStartIndex: start });
      const got: Json[] = Array.isArray(page?.children) ? page.children : [];
      for (const v of got) {
        if (vms.length >= limit) break;
        if (!state || POWER_WORDS[v?.properties?.powerSummary?.powerState] === state) vms.push(v);
      }
      start += got.length;
      if (!got.length || start >= Number(page?.total ?? 0)) break;
    }

    if (ctx.json) return ctx.printJson(vms);
    if (!vms.length) return ctx.print('No virtual machines match.');
    ctx.print(table(
      ['name', 'hypervisor', 'power', { title: 'vcpus', align: 'right' }, { title: 'memory', align: 'right' }, { title: 'committed', align: 'right' }, 'os'],
      vms.map((v: Json) => {
        const p = v.properties ?? {};
        return [
          v.name, p.host, POWER_WORDS[p.powerSummary?.powerState] ?? p.state, p.cpu,
          p.memory === null || p.memory === undefined ? undefined : humanSize(p.memory),
          p.storageSummary?.commited === null || p.storageSummary?.commited === undefined ? undefined : humanSize(p.storageSummary.commited),
          p.configInfo?.osName,
        ];
      }),
    ));
  },
};
