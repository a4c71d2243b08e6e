/**
 * Turns the script's sections (script.ts) into the host instance and one "database" per domain.
 * XML is parsed strictly (../xml.ts); what libvirt does not say is null, never guessed. A section
 * that is not what virsh prints is a ParseError (the collector makes it a PROTOCOL error naming
 * the host); a single object libvirt could not read (it vanished, a disk without a size) is a
 * warning.
 */

import type { CollectedDatabase } from '../types.ts';
import { errorLines, type ScriptOutput, type Section } from './script.ts';
import { at, attr, child, childrenNamed, parseXml, textAt, XmlError, type XmlElement } from '../xml.ts';

export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

export interface NodeInfo {
  cpuModel: string | null;
  cpus: number | null;
  cpuMhz: number | null;
  sockets: number | null;
  coresPerSocket: number | null;
  threadsPerCore: number | null;
  memoryBytes: number | null;
}

export interface StoragePool {
  name: string;
  uuid: string;
  type: string | null;
  state: string | null;
  autostart: boolean;
  persistent: boolean;
  path: string | null;
  capacityBytes: number | null;
  allocationBytes: number | null;
  availableBytes: number | null;
}

export interface Network {
  name: string;
  uuid: string;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
  forwardMode: string | null;
  bridge: string | null;
  ipv4Address: string | null;
  ipv4Netmask: string | null;
}

export interface Disk {
  target: string | null;
  device: string | null;
  bus: string | null;
  path: string | null;
  format: string | null;
  virtualBytes: number | null;
  allocationBytes: number | null;
  physicalBytes: number | null;
}

export interface Interface {
  type: string | null;
  mac: string | null;
  model: string | null;
  source: string | null;
}

export interface HostFacts {
  hostname: string | null;
  libvirtVersion: string | null;
  hypervisorVersion: string | null;
  nodeInfo: NodeInfo;
  storagePools: StoragePool[];
  networks: Network[];
}

export interface Inventory {
  host: HostFacts;
  domains: CollectedDatabase[];
  warnings: string[];
}

/** libvirt's scaled-integer units (docs: formatdomain "memory", formatstorage "capacity"). */
const UNITS: Record<string, bigint> = {
  b: 1n,
  bytes: 1n,
  kb: 1000n,
  k: 1024n,
  kib: 1024n,
  mb: 1000n ** 2n,
  m: 1024n ** 2n,
  mib: 1024n ** 2n,
  gb: 1000n ** 3n,
  g: 1024n ** 3n,
  gib: 1024n ** 3n,
  tb: 1000n ** 4n,
  t: 1024n ** 4n,
  tib: 1024n ** 4n,
  pb: 1000n ** 5n,
  p: 1024n ** 5n,
  pib: 1024n ** 5n,
  eb: 1000n ** 6n,
  e: 1024n ** 6n,
  eib: 1024n ** 6n,
};

/** A scaled integer element (`<memory unit='KiB'>1024</memory>`) in bytes; null when absent. */
function scaled(el: XmlElement | undefined, defaultUnit: string, what: string): number | null {
  if (!el) return null;
  const text = el.text.trim();
  if (!/^[0-9]{1,20}$/.test(text)) throw new ParseError(`${what} is "${text.slice(0, 40)}", not a whole number`);
  const unit = (attr(el, 'unit') ?? defaultUnit).toLowerCase();
  const factor = UNITS[unit];
  if (factor === undefined) throw new ParseError(`${what} has the unknown unit "${unit.slice(0, 20)}"`);
  return Number(BigInt(text) * factor);
}

function wholeNumber(text: string | null, what: string): number | null {
  if (text === null) return null;
  if (!/^[0-9]{1,15}$/.test(text)) throw new ParseError(`${what} is "${text.slice(0, 40)}", not a whole number`);
  return Number(text);
}

function xmlOf(section: Section, root: string): XmlElement {
  let doc: XmlElement;
  try {
    doc = parseXml(section.lines.join('\n'));
  } catch (err) {
    if (err instanceof XmlError) throw new ParseError(`the ${root} XML of ${section.key} is not well formed: ${err.message}`);
    throw err;
  }
  if (doc.name !== root) throw new ParseError(`expected <${root}> for ${section.key}, got <${doc.name}>`);
  return doc;
}

/** Non-empty lines that are not virsh's errors. */
const contentLines = (lines: readonly string[]) => lines.filter((l) => l.trim() !== '' && !l.startsWith('error: '));

/** The UUIDs a `list --uuid` section printed. */
function uuidList(section: Section | undefined, what: string): Set<string> {
  if (!section) throw new ParseError(`the list of ${what} is missing`);
  const errors = errorLines(section.lines);
  if (errors.length) throw new ParseError(`listing ${what} failed: ${errors.join(' ')}`);
  const uuids = new Set<string>();
  for (const line of contentLines(section.lines)) {
    const uuid = line.trim().toLowerCase();
    if (!/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/.test(uuid)) {
      throw new ParseError(`the list of ${what} has "${line.trim().slice(0, 60)}", not a UUID`);
    }
    uuids.add(uuid);
  }
  return uuids;
}

/** "Key:   value" lines (nodeinfo, pool-info) as a map. */
function keyValues(lines: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of contentLines(lines)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new ParseError(`"${line.slice(0, 60)}" is not a "name: value" line`);
    map.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return map;
}

function parseVersion(section: Section | undefined): { libvirt: string | null; hypervisor: string | null } {
  if (!section) throw new ParseError('the version section is missing');
  const values = keyValues(section.lines);
  const libvirt = /^(?:libvirt )?(\d+\.\d+\.\d+)/.exec(values.get('Running against daemon') ?? '')?.[1]
    ?? /^libvirt (\d+\.\d+\.\d+)/.exec(values.get('Using library') ?? '')?.[1] ?? null;
  if (libvirt === null) throw new ParseError('virsh version printed no libvirt version');
  return { libvirt, hypervisor: values.get('Running hypervisor') || null };
}

function parseNodeInfo(section: Section | undefined): NodeInfo {
  if (!section) throw new ParseError('the nodeinfo section is missing');
  if (errorLines(section.lines).length) {
    return { cpuModel: null, cpus: null, cpuMhz: null, sockets: null, coresPerSocket: null, threadsPerCore: null, memoryBytes: null };
  }
  const values = keyValues(section.lines);
  const num = (key: string, suffix = '') => {
    const raw = values.get(key);
    if (raw === undefined) return null;
    return wholeNumber(suffix && raw.endsWith(suffix) ? raw.slice(0, -suffix.length).trim() : raw, `nodeinfo's ${key}`);
  };
  const memoryKiB = num('Memory size', 'KiB');
  return {
    cpuModel: values.get('CPU model') || null,
    cpus: num('CPU(s)'),
    cpuMhz: num('CPU frequency', 'MHz'),
    sockets: num('CPU socket(s)'),
    coresPerSocket: num('Core(s) per socket'),
    threadsPerCore: num('Thread(s) per core'),
    memoryBytes: memoryKiB === null ? null : memoryKiB * 1024,
  };
}

/** domstate's words, as one token: "shut off" -> "shutoff", "in shutdown" -> "shutdown". */
const STATES: Record<string, string> = {
  running: 'running',
  idle: 'blocked',
  blocked: 'blocked',
  paused: 'paused',
  'in shutdown': 'shutdown',
  'shut off': 'shutoff',
  crashed: 'crashed',
  pmsuspended: 'pmsuspended',
  'no state': 'nostate',
  dying: 'dying',
};

/** domblkinfo --all: target -> [capacity, allocation, physical], '-' being unknown. */
function parseBlockInfo(lines: readonly string[], domain: string): Map<string, (number | null)[]> {
  const rows = new Map<string, (number | null)[]>();
  for (const line of contentLines(lines)) {
    const cells = line.trim().split(/\s+/);
    if (cells[0] === 'Target' || /^-+$/.test(line.trim())) continue;
    if (cells.length !== 4) throw new ParseError(`domblkinfo of ${domain} printed "${line.trim().slice(0, 80)}"`);
    rows.set(
      cells[0]!,
      cells.slice(1).map((c) => (c === '-' ? null : wholeNumber(c, `domblkinfo's size for ${cells[0]} of ${domain}`))),
    );
  }
  return rows;
}

function diskPath(source: XmlElement | undefined): string | null {
  if (!source) return null;
  const direct = attr(source, 'file') ?? attr(source, 'dev') ?? attr(source, 'dir');
  if (direct !== null) return direct;
  const pool = attr(source, 'pool');
  const volume = attr(source, 'volume');
  if (pool !== null && volume !== null) return `${pool}/${volume}`;
  const name = attr(source, 'name');
  const protocol = attr(source, 'protocol');
  if (name !== null) return protocol ? `${protocol}:${name}` : name;
  return null;
}

function interfaceSource(el: XmlElement): string | null {
  const source = child(el, 'source');
  if (!source) return null;
  return attr(source, 'network') ?? attr(source, 'bridge') ?? attr(source, 'dev') ?? attr(source, 'path') ?? null;
}

/** "255.255.255.0" for a prefix length. */
function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}

function buildDomain(
  uuid: string,
  sections: Map<string, Section>,
  flags: { autostart: Set<string>; persistent: Set<string> },
  warnings: string[],
): CollectedDatabase | null {
  const xmlSection = sections.get(`dom-xml ${uuid}`);
  if (!xmlSection) throw new ParseError(`the XML of domain ${uuid} is missing`);
  const errors = errorLines(xmlSection.lines);
  if (errors.length) {
    // A transient domain that stopped between the list and the read is simply gone.
    warnings.push(`domain ${uuid} could not be read (it may have just been removed): ${errors.join(' ')}`);
    return null;
  }
  const doc = xmlOf(xmlSection, 'domain');
  const name = textAt(doc, 'name');
  if (!name) throw new ParseError(`domain ${uuid} has no name`);

  const stateSection = sections.get(`dom-state ${uuid}`);
  let state: string | null = null;
  if (stateSection && !errorLines(stateSection.lines).length) {
    const word = contentLines(stateSection.lines)[0]?.trim() ?? '';
    state = STATES[word] ?? (word || null);
  } else if (stateSection) {
    warnings.push(`the state of domain "${name}" could not be read: ${errorLines(stateSection.lines).join(' ')}`);
  }

  const blkSection = sections.get(`dom-blk ${uuid}`);
  let sizes = new Map<string, (number | null)[]>();
  if (blkSection && errorLines(blkSection.lines).length) {
    warnings.push(`the disk sizes of domain "${name}" could not be read: ${errorLines(blkSection.lines).join(' ')}`);
  } else if (blkSection) {
    sizes = parseBlockInfo(blkSection.lines, `domain "${name}"`);
  }

  const devices = child(doc, 'devices');
  const disks = childrenNamed(devices, 'disk').map((d) => {
    const target = attr(child(d, 'target'), 'dev');
    const [virtualBytes = null, allocationBytes = null, physicalBytes = null] = (target !== null ? sizes.get(target) : undefined) ?? [];
    return {
      target,
      device: attr(d, 'device') ?? 'disk',
      bus: attr(child(d, 'target'), 'bus'),
      path: diskPath(child(d, 'source')),
      format: attr(child(d, 'driver'), 'type'),
      virtualBytes,
      allocationBytes,
      physicalBytes,
    } satisfies Disk;
  });
  const interfaces = childrenNamed(devices, 'interface').map(
    (i) =>
      ({
        type: attr(i, 'type'),
        mac: attr(child(i, 'mac'), 'address'),
        model: attr(child(i, 'model'), 'type'),
        source: interfaceSource(i),
      }) satisfies Interface,
  );

  // The VM's storage: its hard disks (cdroms and floppies hold shared media, not the VM's data).
  const allocations = disks
    .filter((d) => d.device === 'disk' || d.device === 'lun')
    .map((d) => d.allocationBytes)
    .filter((n): n is number => n !== null);
  const vcpu = child(doc, 'vcpu');
  const maxVcpus = wholeNumber(vcpu ? vcpu.text.trim() : null, `the vCPU count of domain "${name}"`);
  const current = attr(vcpu, 'current');
  const osType = at(doc, 'os/type');

  return {
    name,
    sizeBytes: allocations.length ? allocations.reduce((a, b) => a + b, 0) : null,
    owner: null,
    encoding: null,
    properties: {
      uuid,
      state,
      vcpus: current !== null ? wholeNumber(current, `the current vCPU count of domain "${name}"`) : maxVcpus,
      maxVcpus,
      memoryBytes: scaled(child(doc, 'currentMemory'), 'KiB', `the current memory of domain "${name}"`) ??
        scaled(child(doc, 'memory'), 'KiB', `the memory of domain "${name}"`),
      maxMemoryBytes: scaled(child(doc, 'memory'), 'KiB', `the memory of domain "${name}"`),
      osType: osType ? osType.text.trim() || null : null,
      arch: attr(osType, 'arch'),
      machine: attr(osType, 'machine'),
      domainType: attr(doc, 'type'),
      persistent: flags.persistent.has(uuid),
      autostart: flags.autostart.has(uuid),
      title: textAt(doc, 'title'),
      description: textAt(doc, 'description'),
      disks,
      interfaces,
    },
  };
}

function buildPool(uuid: string, sections: Map<string, Section>, flags: { autostart: Set<string>; persistent: Set<string> }, warnings: string[]): StoragePool | null {
  const xmlSection = sections.get(`pool-xml ${uuid}`);
  if (!xmlSection) throw new ParseError(`the XML of storage pool ${uuid} is missing`);
  if (errorLines(xmlSection.lines).length) {
    warnings.push(`storage pool ${uuid} could not be read: ${errorLines(xmlSection.lines).join(' ')}`);
    return null;
  }
  const doc = xmlOf(xmlSection, 'pool');
  const name = textAt(doc, 'name');
  if (!name) throw new ParseError(`storage pool ${uuid} has no name`);
  const infoSection = sections.get(`pool-info ${uuid}`);
  const info = infoSection && !errorLines(infoSection.lines).length ? keyValues(infoSection.lines) : new Map<string, string>();
  const state = info.get('State') ?? null;
  // An inactive pool's numbers are whatever libvirt last saw (often 0): not the pool's size now.
  const live = state !== null && state !== 'inactive';
  return {
    name,
    uuid,
    type: attr(doc, 'type'),
    state,
    autostart: flags.autostart.has(uuid),
    persistent: flags.persistent.has(uuid),
    path: textAt(doc, 'target/path'),
    capacityBytes: live ? scaled(child(doc, 'capacity'), 'bytes', `the capacity of pool "${name}"`) : null,
    allocationBytes: live ? scaled(child(doc, 'allocation'), 'bytes', `the allocation of pool "${name}"`) : null,
    availableBytes: live ? scaled(child(doc, 'available'), 'bytes', `the available space of pool "${name}"`) : null,
  };
}

function buildNetwork(
  uuid: string,
  sections: Map<string, Section>,
  flags: { autostart: Set<string>; persistent: Set<string>; active: Set<string> },
  warnings: string[],
): Network | null {
  const xmlSection = sections.get(`net-xml ${uuid}`);
  if (!xmlSection) throw new ParseError(`the XML of network ${uuid} is missing`);
  if (errorLines(xmlSection.lines).length) {
    warnings.push(`network ${uuid} could not be read: ${errorLines(xmlSection.lines).join(' ')}`);
    return null;
  }
  const doc = xmlOf(xmlSection, 'network');
  const name = textAt(doc, 'name');
  if (!name) throw new ParseError(`network ${uuid} has no name`);
  const ipv4 = childrenNamed(doc, 'ip').find((ip) => (attr(ip, 'family') ?? 'ipv4') === 'ipv4');
  const prefix = attr(ipv4, 'prefix');
  let netmask = attr(ipv4, 'netmask');
  if (netmask === null && prefix !== null) {
    const bits = wholeNumber(prefix, `the prefix of network "${name}"`)!;
    if (bits > 32) throw new ParseError(`network "${name}" has the IPv4 prefix ${bits}`);
    netmask = prefixToNetmask(bits);
  }
  return {
    name,
    uuid,
    active: flags.active.has(uuid),
    persistent: flags.persistent.has(uuid),
    autostart: flags.autostart.has(uuid),
    forwardMode: attr(child(doc, 'forward'), 'mode') ?? (child(doc, 'forward') ? 'nat' : null),
    bridge: attr(child(doc, 'bridge'), 'name'),
    ipv4Address: attr(ipv4, 'address'),
    ipv4Netmask: netmask,
  };
}

/** Builds the inventory from a script run whose first virsh run connected. */
export function buildInventory(output: ScriptOutput): Inventory {
  const byName = new Map<string, Section>();
  const perObject = new Map<string, Section>();
  for (const s of output.sections) {
    if (s.key) perObject.set(`${s.kind} ${s.key.toLowerCase()}`, s);
    else byName.set(s.kind, s);
  }
  const warnings: string[] = [];
  const version = parseVersion(byName.get('version'));
  const hostnameSection = byName.get('hostname');
  const hostname = hostnameSection && !errorLines(hostnameSection.lines).length ? contentLines(hostnameSection.lines)[0]?.trim() || null : null;

  const domainFlags = {
    autostart: uuidList(byName.get('domains-autostart'), 'autostarted domains'),
    persistent: uuidList(byName.get('domains-persistent'), 'persistent domains'),
  };
  const domains = [...uuidList(byName.get('domains'), 'domains')]
    .map((uuid) => buildDomain(uuid, perObject, domainFlags, warnings))
    .filter((d): d is CollectedDatabase => d !== null);

  const poolFlags = {
    autostart: uuidList(byName.get('pools-autostart'), 'autostarted storage pools'),
    persistent: uuidList(byName.get('pools-persistent'), 'persistent storage pools'),
  };
  const storagePools = [...uuidList(byName.get('pools'), 'storage pools')]
    .map((uuid) => buildPool(uuid, perObject, poolFlags, warnings))
    .filter((p): p is StoragePool => p !== null);

  const netFlags = {
    autostart: uuidList(byName.get('networks-autostart'), 'autostarted networks'),
    persistent: uuidList(byName.get('networks-persistent'), 'persistent networks'),
    active: uuidList(byName.get('networks-active'), 'active networks'),
  };
  const networks = [...uuidList(byName.get('networks'), 'networks')]
    .map((uuid) => buildNetwork(uuid, perObject, netFlags, warnings))
    .filter((n): n is Network => n !== null);

  return {
    host: {
      hostname,
      libvirtVersion: version.libvirt,
      hypervisorVersion: version.hypervisor,
      nodeInfo: parseNodeInfo(byName.get('nodeinfo')),
      storagePools,
      networks,
    },
    domains,
    warnings,
  };
}
