/**
 * Hypervisors (spec §11.4) and the VM catalog (spec §11.3): the hypervisor record, its /ngp
 * answers, the registration and update bodies, and a VM as GET /api/endeavour/catalog/hypervisor/vm
 * and POST /api/hypervisor/search answer it. What libvirt does not know is null, never invented.
 */
import { Type, type Static } from '@sinclair/typebox';
import { IdentityRef } from './appservers.ts';
import {
  arrayOf, boolean, collection, epochMs, IntegerLike, BooleanLike, integer, linksOf, numericId, object, openObject, orNull, ref, str, text,
} from './common.ts';

export const Hypervisor = object({
  links: linksOf('self, up, edit, delete, vms (its VMs in the catalog), the `inventory` and `test` actions.'),
  id: numericId('Hypervisor id'),
  name: str(),
  hostAddress: str(),
  type: str('The hypervisor type: `kvm` (libvirt).'),
  version: orNull(str('What its last inventory read (libvirt\'s and the hypervisor\'s versions); null before one has run.')),
  user: orNull(object({ href: str('The identity it logs in with.') })),
  useKeyAuthentication: boolean(),
  portNumber: orNull(integer('SSH port; null for the default (22).')),
  uri: orNull(str('The libvirt URI on the host; null for qemu:///system. A Census addition.')),
  tls: str('How its HTTPS is checked (vmware): `disable`, `require` or `verify`. A Census addition.'),
  comment: orNull(str()),
  siteId: str(),
  siteName: str(),
  resourceType: str('Always `hypervisor`.'),
  rbacPath: str(),
}, 'A registered hypervisor (spec §11.4).');
Hypervisor.$id = 'Hypervisor';
export type HypervisorWire = Static<typeof Hypervisor>;

export const HypervisorList = collection('hypervisors', Hypervisor, 'Hypervisors.');
HypervisorList.$id = 'HypervisorList';

export const NgpHypervisor = object({
  statusCode: integer('201 for a registration, 200 for an update.'),
  response: ref(Hypervisor),
}, 'A hypervisor through the NodeJS layer: wrapped as `{statusCode, response}`.');
NgpHypervisor.$id = 'NgpHypervisor';

export const HypervisorInventoryStarted = object({
  hypervisor: ref(Hypervisor),
  sessionId: numericId('The Hypervisor Inventory session that covers it'),
  started: boolean('A new session started (false: it joined the running one).'),
}, 'Answer of `?action=inventory`.');
HypervisorInventoryStarted.$id = 'HypervisorInventoryStarted';
export type HypervisorInventoryStartedWire = Static<typeof HypervisorInventoryStarted>;

const Disk = openObject('A disk as libvirt describes it.', {
  target: orNull(str()), device: orNull(str()), bus: orNull(str()), path: orNull(str()), format: orNull(str()),
  virtualBytes: orNull(integer()), allocationBytes: orNull(integer()), physicalBytes: orNull(integer()),
});

export const VmProperties = openObject('What sppmon reads (spec §11.3), then what libvirt or vSphere told Census besides.', {
  name: str(),
  host: str('The hypervisor\'s name.'),
  hypervisorId: numericId('The hypervisor'),
  vmVersion: orNull(str('vSphere\'s hardware version (`vmx-19`); for kvm the libvirt machine type (e.g. `pc-q35-7.2`), the closest thing to one; null when none is named.')),
  configInfo: object({ osName: orNull(str('The guest OS as vSphere names it (`guestFullName`); libvirt does not know it (its os type `hvm` is the kind of virtualisation), so null for kvm.')) }),
  hypervisorType: str('`kvm` or `vmware`.'),
  isProtected: boolean('Always false: Census keeps no backups.'),
  inHLO: boolean('Always false (Census has no backup catalog to compare with).'),
  powerSummary: object({
    powerState: orNull(str('`POWERED_ON` (vSphere poweredOn; libvirt running, idle, blocked, in shutdown), `POWERED_OFF` (poweredOff; shut off, crashed), `SUSPENDED` (suspended; paused, pmsuspended); null for other states.')),
    uptime: orNull(integer('Seconds since power-on, from vSphere\'s quick stats; not known to libvirt: null.')),
  }),
  storageSummary: object({
    commited: orNull(integer('Bytes it takes on its datastores (vSphere) or allocated to its disks (libvirt); SPP\'s spelling.')),
    uncommited: orNull(integer('Bytes it may still grow by: vSphere\'s uncommitted; for libvirt the virtual size of its disks minus the allocated bytes.')),
    shared: orNull(integer('vSphere: committed minus unshared bytes (what it shares with other VMs); not known to libvirt: null.')),
  }),
  datacenter: object({ name: orNull(str('The vSphere datacenter; for kvm the hypervisor\'s site.')) }),
  cpu: orNull(integer('vCPUs.')),
  coresPerCpu: orNull(integer('Cores per virtual socket (vSphere); not known to libvirt: null.')),
  memory: orNull(integer('Memory in bytes.')),
  uuid: Type.Optional(orNull(str())),
  state: Type.Optional(orNull(str('libvirt\'s domain state, or vSphere\'s power state (`poweredOn`, …).'))),
  osType: Type.Optional(orNull(str())),
  arch: Type.Optional(orNull(str())),
  disks: Type.Optional(arrayOf(Disk)),
  interfaces: Type.Optional(arrayOf(openObject())),
});

export const Vm = object({
  links: linksOf('self (the VM\'s database-style record under its hypervisor\'s instance), hypervisor, history.'),
  id: numericId('VM id'),
  name: str(),
  catalogTime: epochMs('When an inventory last found it'),
  firstSeen: epochMs('When an inventory first found it'),
  isEncrypted: orNull(boolean('Not known to libvirt\'s domain listing: null.')),
  resourceType: str('Always `vm`.'),
  properties: VmProperties,
}, 'A virtual machine in the catalog (spec §11.3).');
Vm.$id = 'Vm';
export type VmWire = Static<typeof Vm>;

export const VmList = collection('children', Vm, 'Virtual machines.');
VmList.$id = 'VmList';

export const VmSearchResult = collection('vms', Vm, 'Virtual machines that match the search.');
VmSearchResult.$id = 'VmSearchResult';

// ---- request bodies --------------------------------------------------------------------------

const hypervisorFields = {
  name: Type.Optional(text({ maxLength: 255, description: 'Default: the host address.' })),
  portNumber: Type.Optional(IntegerLike({ minimum: 1, maximum: 65535, errorMessage: 'must be a whole number from 1 to 65535', description: 'SSH port for kvm (default 22); HTTPS port for vmware (default 443).' })),
  uri: Type.Optional(text({ maxLength: 1000, description: 'kvm: libvirt URI on the host. Default qemu:///system.' })),
  tls: Type.Optional(text({ description: 'vmware: how the vCenter\'s HTTPS is checked: `verify` (the default: the system\'s CAs and the host name) or `require` (any certificate, e.g. a self-signed vCenter); `disable` is plain HTTP, which a vCenter does not serve. The default is the collector\'s `defaultTls`. A Census addition.' })),
  comment: Type.Optional(text({ maxLength: 2000 })),
  user: Type.Optional(IdentityRef('The identity to log in with (password or SSH key): `{"href": ".../api/identity/user/ID"}` or `.../identity/key/ID`.')),
  useKeyAuthentication: Type.Optional(BooleanLike('The identity is an SSH key (implied by a `.../identity/key/ID` href or an inline `privatekey`).')),
  username: Type.Optional(text({ description: 'User name (an identity is created with `password` or `privatekey`), or an identity href.' })),
  password: Type.Optional(text({ writeOnly: true })),
  privatekey: Type.Optional(text({ writeOnly: true })),
  passphrase: Type.Optional(text({ writeOnly: true })),
  addToCatJob: Type.Optional(BooleanLike('Inventory it at once (default true, as SPP does).')),
};

export const HypervisorRegistration = Type.Object({
  hostAddress: text({ maxLength: 255, description: 'Host name or IP address.' }),
  type: text({ description: 'The hypervisor type: `kvm` or `vmware`. SPP\'s `hyperv` and `awsec2` are refused as not supported yet.' }),
  ...hypervisorFields,
}, { additionalProperties: true });

export const HypervisorUpdateBody = Type.Object({
  hostAddress: Type.Optional(text({ maxLength: 255 })),
  type: Type.Optional(text({ description: 'Cannot change.' })),
  ...hypervisorFields,
}, { description: 'The properties to change; the others stay as they are.', additionalProperties: true });

export const VmSearchBody = Type.Object({
  name: Type.Optional(text({ description: 'Name pattern, `*` a wildcard (default `*`).' })),
  hypervisorType: Type.Optional(text({ description: 'Only VMs of this hypervisor type (e.g. `kvm`); empty for all.' })),
}, { description: 'What to search for.', additionalProperties: true });
