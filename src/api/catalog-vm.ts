/**
 * The VM catalog (spec §11.3): GET /api/endeavour/catalog/hypervisor/vm, which sppmon's `--all`
 * reads with `embed=(children(properties))`, and POST /api/hypervisor/search?resourceType=vm,
 * answered from the same data: the VMs the hypervisors' last inventories found. Each field SPP
 * has and libvirt does not know is null, never made up (docs/hypervisors.md has the mapping).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../core/errors.ts';
import { INT32_MAX, type Criterion, type FieldMap, type ListQuery } from '../core/query.ts';
import type { VmRecord } from '../services/index.ts';
import { envelope, readCollectionQuery, toListQuery, type CollectionQuery } from './collection.ts';
import { actorOf, bodyObject, queryParam, type ApiContext } from './context.ts';
import { str } from './input.ts';
import { baseUrl, link } from './links.ts';
import { collectionQuery, query, requestBody, routeSchema, TAGS, VmSearchBody, type VmWire } from './schemas/index.ts';

const VM_FIELDS: FieldMap = {
  id: { column: 'vm.id', type: 'number', max: INT32_MAX }, name: { column: 'vm.name', type: 'string' }, host: { column: 'vm.host', type: 'string' },
  hypervisorId: { column: 'vm.hypervisorId', type: 'number', max: INT32_MAX }, hypervisorType: { column: 'vm.hypervisorType', type: 'string' },
  catalogTime: { column: 'vm.lastSeen', type: 'number' }, firstSeen: { column: 'vm.firstSeen', type: 'number' },
};
const FILTER_TEXT = 'Filter and sort properties: id, name, host (the hypervisor\'s name), hypervisorId, hypervisorType, catalogTime, firstSeen. ' +
  'Census keeps no backups, so a `storageProfileName` (SLA) criterion matches no VM.';

/** libvirt's domain states and vSphere's power states as SPP's; a state SPP has no word for is null. */
const POWER: Record<string, string> = {
  running: 'POWERED_ON', idle: 'POWERED_ON', blocked: 'POWERED_ON', inshutdown: 'POWERED_ON', shutdown: 'POWERED_ON',
  shutoff: 'POWERED_OFF', crashed: 'POWERED_OFF', dying: 'POWERED_OFF',
  paused: 'SUSPENDED', pmsuspended: 'SUSPENDED',
  poweredon: 'POWERED_ON', poweredoff: 'POWERED_OFF', suspended: 'SUSPENDED',
};
export const powerState = (state: unknown): string | null =>
  typeof state === 'string' ? POWER[state.toLowerCase().replace(/[\s_-]/g, '')] ?? null : null;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : null);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

interface Disk { device?: unknown; allocationBytes?: unknown; virtualBytes?: unknown }

/**
 * Allocated and not-yet-allocated bytes of the VM's hard disks (cdroms and floppies hold shared
 * media, not the VM's data); null when no disk says.
 */
function storage(p: Record<string, unknown>, sizeBytes: number | null) {
  // vSphere says all three itself (the vmware collector's committed/uncommitted/shared bytes).
  if (num(p.committedBytes) !== null) return { commited: num(p.committedBytes), uncommited: num(p.uncommittedBytes), shared: num(p.sharedBytes) };
  const disks = (Array.isArray(p.disks) ? (p.disks as Disk[]) : []).filter((d) => d.device === undefined || d.device === 'disk' || d.device === 'lun');
  const allocated = disks.map((d) => num(d.allocationBytes)).filter((n): n is number => n !== null);
  const virtual = disks.map((d) => num(d.virtualBytes)).filter((n): n is number => n !== null);
  const commited = allocated.length ? allocated.reduce((a, b) => a + b, 0) : sizeBytes;
  const uncommited = commited !== null && virtual.length === disks.length && disks.length
    ? Math.max(0, virtual.reduce((a, b) => a + b, 0) - commited) : null;
  return { commited, uncommited, shared: null };
}

/** A disk as the collector reported it, each field null when it did not say. */
const diskWire = (d: Record<string, unknown>) => ({
  target: text(d.target), device: text(d.device), bus: text(d.bus), path: text(d.path), format: text(d.format),
  virtualBytes: num(d.virtualBytes), allocationBytes: num(d.allocationBytes), physicalBytes: num(d.physicalBytes),
});

export function vmWire(base: string, v: VmRecord): VmWire {
  const p = v.properties;
  return {
    links: {
      self: link(base, `/api/application/${v.hypervisorType}/instance/${v.instanceId}/database/${v.id}`, 'self'),
      hypervisor: link(base, `/api/hypervisor/${v.hypervisorId}`),
      history: link(base, `/api/application/${v.hypervisorType}/instance/${v.instanceId}/database/${v.id}/history`),
    },
    id: String(v.id),
    name: v.name,
    catalogTime: v.lastSeen,
    firstSeen: v.firstSeen,
    isEncrypted: null,
    resourceType: 'vm',
    properties: {
      name: v.name,
      host: v.host,
      hypervisorId: String(v.hypervisorId),
      vmVersion: text(p.vmVersion) ?? text(p.machine),
      configInfo: { osName: text(p.osName) ?? text(p.guestFullName) },
      hypervisorType: v.hypervisorType,
      isProtected: false,
      inHLO: false,
      powerSummary: { powerState: powerState(p.state), uptime: num(p.uptimeSeconds) },
      storageSummary: storage(p, v.sizeBytes),
      datacenter: { name: text(p.datacenter) ?? v.siteName },
      cpu: num(p.vcpus),
      coresPerCpu: num(p.coresPerSocket),
      memory: num(p.memoryBytes),
      uuid: text(p.uuid),
      state: text(p.state),
      osType: text(p.osType),
      arch: text(p.arch),
      ...(Array.isArray(p.disks) ? { disks: (p.disks as Record<string, unknown>[]).map(diskWire) } : {}),
      ...(Array.isArray(p.interfaces) ? { interfaces: p.interfaces as Record<string, unknown>[] } : {}),
    },
  };
}

/** Census keeps no backups, so no VM has an SLA: a criterion on one matches nothing (and is not ignored as an unknown property would be). */
const asksForSla = (criteria: Criterion[]) => criteria.some((c) => c.property === 'storageProfileName' && c.op !== 'NOT EXISTS');

export function catalogVmRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { hypervisors } = ctx.services;

  async function page(req: FastifyRequest, cq: CollectionQuery, key: string) {
    const actor = await actorOf(ctx, req);
    const q: ListQuery = toListQuery(cq, VM_FIELDS, [{ property: 'id', direction: 'ASC' }]);
    const none = asksForSla(cq.criteria) || queryParam(req, 'from') === 'recovery';
    const found = none ? { total: 0, items: [] } : await hypervisors.vms(actor, q);
    const base = baseUrl(req);
    return envelope(req, key, found.items.map((v) => vmWire(base, v)), found.total, cq.paging);
  }

  app.get('/api/endeavour/catalog/hypervisor/vm', {
    schema: routeSchema({
      tag: TAGS.hypervisors, permission: 'hypervisor.view', summary: 'List the virtual machines of the hypervisors (the VM catalog)',
      description: `The VMs the hypervisors' last inventories found, with SPP's properties (sppmon reads them with \`embed=(children(properties))\`; they are always embedded). ${FILTER_TEXT} ` +
        '`from=recovery` (backup copies) is always empty.',
      querystring: collectionQuery({ embed: 'Accepted: `(children(properties))`; properties are always there.', from: '`hlo` (default) or `recovery` (empty).' }),
      ok: { 200: 'VmList' }, errors: [400],
    }),
  }, (req) => page(req, readCollectionQuery(req), 'children'));

  app.post('/api/hypervisor/search', {
    schema: routeSchema({
      tag: TAGS.hypervisors, permission: 'hypervisor.view', summary: 'Search the virtual machines',
      description: `\`resourceType=vm\`; the body's \`name\` is a pattern with \`*\` and \`hypervisorType\` limits the hypervisor type; \`filter\`, \`sort\` and paging as on the catalog. ${FILTER_TEXT}`,
      querystring: collectionQuery({ resourceType: 'Only `vm`.', from: '`hlo` (default) or `recovery` (empty).' }),
      body: requestBody(VmSearchBody),
      ok: { 200: 'VmSearchResult' }, errors: [400],
    }),
  }, async (req) => {
    const resourceType = queryParam(req, 'resourceType') ?? 'vm';
    if (resourceType !== 'vm') throw invalid(`Census searches virtual machines only: resourceType must be "vm", not ${JSON.stringify(resourceType)}.`);
    const body = bodyObject(req);
    const cq = readCollectionQuery(req);
    const name = str(body, 'name') ?? '*';
    const type = str(body, 'hypervisorType');
    const criteria: Criterion[] = [...cq.criteria];
    if (name !== '*') criteria.push({ property: 'name', op: '=', value: name });
    if (type) criteria.push({ property: 'hypervisorType', op: '=', value: type.toLowerCase() });
    return page(req, { ...cq, criteria }, 'vms');
  });
}
