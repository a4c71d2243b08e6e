/**
 * The Manage Protection menu and what each application type looks like in Census, made from the
 * server's list of collectors (GET /api/census/collector): the UI keeps no list of types.
 */
import type { Collector, ProtectionGroup } from '../api/types';
import { collectorPath, groupPath } from './pages';

/** SPP's Manage Protection groups, in menu order; `what` says what a group without collectors would hold. */
export const GROUPS: readonly { id: ProtectionGroup; title: string; what: string }[] = [
  { id: 'databases', title: 'Databases', what: 'databases' },
  { id: 'file-systems', title: 'File Systems', what: 'file systems' },
  { id: 'containers', title: 'Containers', what: 'containers' },
  { id: 'cloud-management', title: 'Cloud Management', what: 'cloud resources' },
  { id: 'hypervisors', title: 'Hypervisors', what: 'hypervisors and their virtual machines' },
];

export interface AppType {
  /** Census's applicationType. */
  type: string;
  /** Its Manage Protection group: hypervisor types get the hypervisor page. */
  group: ProtectionGroup;
  /** The page's title: the type's name, or its group's when it is the group's only type. */
  title: string;
  displayName: string;
  /** The group's title when the page is one of several in it (the kicker shows it). */
  groupTitle: string | null;
  /** How a registered server of this type is called, singular and plural, and its instances. */
  server: string;
  servers: string;
  instances: string;
  /** What an instance holds, plural and singular. */
  items: string;
  item: string;
  /** Path segment under an instance: database or filesystem. */
  segment: 'database' | 'filesystem';
  defaultPort: number | null;
  portHint: string;
  /** Logs in over SSH (a key or a password) rather than with a database login. */
  ssh: boolean;
  /** The login the registration form starts with. */
  defaultAuth: 'password' | 'key';
  /** The logins it accepts (a password, an SSH key), in order of preference. */
  identityKinds: readonly ('password' | 'key')[];
  /** Its servers may ask for no password: the form then lets it be empty. */
  passwordOptional: boolean;
  /** Whether a server's TLS mode applies, and the mode a registration gets when it names none (null where it does not apply). */
  tls: boolean;
  defaultTls: 'disable' | 'require' | 'verify' | null;
  /** The connection URI opened on the host when a registration gives none (libvirt's); null: it takes no URI. */
  defaultUri: string | null;
  path: string;
}

/** Words for the kinds of object an instance holds; other kinds are shown by their name. */
const CHILD_WORDS: Record<string, [string, string]> = {
  database: ['database', 'databases'],
  filesystem: ['file system', 'file systems'],
};

export function appTypeOf(c: Collector, aloneInGroup: boolean): AppType {
  const child = c.childTypes[0] ?? 'database';
  const [item, items] = CHILD_WORDS[child] ?? [child, `${child}s`];
  const group = GROUPS.find((g) => g.id === c.group);
  const ssh = c.identityKinds.includes('key');
  const ownNoun = c.serverNoun !== `${c.displayName} server`;
  const port = c.defaultPort === null ? '' : ` (${c.defaultPort} by default)`;
  return {
    type: c.type,
    group: c.group,
    title: aloneInGroup && group ? group.title : c.displayName,
    displayName: c.displayName,
    groupTitle: aloneInGroup ? null : (group?.title ?? null),
    server: c.serverNoun,
    servers: `${c.serverNoun}s`,
    instances: ownNoun ? `${c.serverNoun}s` : `${c.displayName} instances`,
    item,
    items,
    segment: child === 'filesystem' ? 'filesystem' : 'database',
    defaultPort: c.defaultPort,
    portHint: ssh ? `The SSH port of the host${port}.` : `The port ${c.displayName} listens on${port}.`,
    ssh,
    defaultAuth: c.identityKinds[0] ?? 'password',
    identityKinds: c.identityKinds,
    passwordOptional: c.passwordOptional,
    tls: c.tls,
    defaultTls: c.tls ? c.defaultTls ?? 'disable' : null,
    defaultUri: c.defaultUri,
    path: collectorPath(c.group, c.type),
  };
}

export interface MenuGroup {
  id: ProtectionGroup;
  title: string;
  what: string;
  /** Its pages: none (Census cannot inventory these), one (the group is one link) or several. */
  apps: AppType[];
  /** Where the group's own link points: its only page, or the "cannot inventory" page. */
  path: string;
}

/** The menu, every group in order with the types the server can inventory in it. */
export function menu(collectors: readonly Collector[]): MenuGroup[] {
  return GROUPS.map((g) => {
    const members = collectors.filter((c) => c.group === g.id);
    const apps = members.map((c) => appTypeOf(c, members.length === 1));
    return { ...g, apps, path: apps.length === 1 ? apps[0]!.path : groupPath(g.id) };
  });
}

/** Every application page of the menu, in menu order. */
export const allApps = (groups: MenuGroup[]): AppType[] => groups.flatMap((g) => g.apps);
