/**
 * What a collector is, apart from what it does (src/collectors/types.ts has the contract): the
 * collectors declare it, the API serves it, registration checks against it.
 */

import type { TlsMode } from './tls-mode.ts';

/** The Manage Protection groups of SPP's UI a collector's servers are listed under. */
export type ProtectionGroup = 'databases' | 'file-systems' | 'containers' | 'cloud-management' | 'hypervisors';
export const PROTECTION_GROUPS: readonly ProtectionGroup[] = ['databases', 'file-systems', 'containers', 'cloud-management', 'hypervisors'];

/** How a collector may log in: a user name with a password, or with an SSH private key. */
export type IdentityKind = 'password' | 'key';
export const IDENTITY_KINDS: readonly IdentityKind[] = ['password', 'key'];

/**
 * What a collector is, for everything outside the engine: the API lists it (the CLI's `--type`
 * and the web UI's menus and pages are driven by that list), registration checks against it.
 */
export interface CollectorInfo {
  /** SPP's applicationType on the wire, e.g. "postgresql"; the registry's key. */
  type: string;
  /** For people, e.g. "PostgreSQL". */
  displayName: string;
  /** What one registered server is called, for people, e.g. "Linux host" (absent: displayName + " server"). */
  serverNoun?: string;
  group: ProtectionGroup;
  /** The port used when a registration gives none (null: the collector needs none). */
  defaultPort: number | null;
  /** What the instance's children are (the `type` of each collected child): database, schema, filesystem, keyspace, … */
  childTypes: readonly string[];
  /** Identity kinds it accepts, in order of preference. */
  identityKinds: readonly IdentityKind[];
  /**
   * Its servers may ask for no password (Redis's default user without `requirepass`): a
   * registration with its credentials inline may then give an empty one. Absent: a password is
   * required, as it is for every stored identity.
   */
  passwordOptional?: boolean;
  /**
   * Properties it stores only for its own next run (a change signal, a catalog it may carry over;
   * docs/inventory.md), by the instance's and by its children's: the API leaves them out of its
   * answers, where they would be bookkeeping that no one reads (and most of an instance's bytes).
   */
  keptForNextRun?: { instance?: readonly string[]; child?: readonly string[] };
  /** Whether the per-server `tls` mode (disable, require, verify) applies. */
  tls: boolean;
  /** The `tls` mode of a registration that names none (absent: "disable"); one that speaks only TLS says "verify". */
  defaultTls?: TlsMode;
  /**
   * The connection URI it opens on the host when a registration gives none (libvirt:
   * "qemu:///system"). Absent: the collector takes no URI, and a registration that gives one is refused.
   */
  defaultUri?: string;
  /** Its connection checks (the `name`s test() answers), in order, with what each checks. */
  checks: readonly { name: string; description: string }[];
}
