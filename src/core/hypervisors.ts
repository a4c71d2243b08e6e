/**
 * Which registered servers are hypervisors. A hypervisor is stored like an application server
 * (the same rows); what makes it one is its type: a collector of the `hypervisors` group, or one
 * of SPP's hypervisor types Census has no collector for yet (those are refused at registration,
 * but a row of one, should a collector be removed, must still never show as an application server).
 */
import type { CollectorInfo } from './collector-info.ts';

/** SPP's hypervisor types (spec §11.4) and Census's own `kvm`. */
export const KNOWN_HYPERVISOR_TYPES: readonly string[] = ['kvm', 'vmware', 'hyperv', 'awsec2'];

/** The types of the collectors that inventory hypervisors. */
export const hypervisorCollectorTypes = (collectors: readonly CollectorInfo[]): string[] =>
  collectors.filter((c) => c.group === 'hypervisors').map((c) => c.type);

/** Every type whose servers are hypervisors: the collectors' and SPP's known ones. */
export const hypervisorTypes = (collectors: readonly CollectorInfo[]): string[] =>
  [...new Set([...hypervisorCollectorTypes(collectors), ...KNOWN_HYPERVISOR_TYPES])];

export const isHypervisorType = (type: string, collectors: readonly CollectorInfo[]): boolean =>
  hypervisorTypes(collectors).includes(type.toLowerCase());
