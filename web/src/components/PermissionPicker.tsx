/**
 * A role and a resource group, picked together: what a new user gets, what an admin adds to a
 * user, and what a directory group maps to. Until a choice is made it shows the least a
 * person can hold (the read-only Monitor role) on the first group (All Resources).
 */
import type { Choices, PermissionPair } from '../lib/security';
import { SelectField } from './Form';

/** The pair shown: the one picked, or the defaults once the lists are in. */
export function pickedPair(p: PermissionPair, c: Choices | undefined): PermissionPair {
  const roles = c?.roles ?? [];
  return {
    roleId: p.roleId || (roles.find((r) => r.name === 'Monitor') ?? roles[0])?.id || '',
    poolId: p.poolId || c?.pools[0]?.id || '',
  };
}

export function PermissionPicker({ id, choices, value, onChange }: { id: string; choices: Choices | undefined; value: PermissionPair; onChange: (p: PermissionPair) => void }) {
  const shown = pickedPair(value, choices);
  return (
    <>
      <SelectField id={`${id}-role`} label="Role" value={shown.roleId} onChange={(roleId) => onChange({ ...shown, roleId })} options={(choices?.roles ?? []).map((r) => ({ value: r.id, label: r.name }))} />
      <SelectField id={`${id}-pool`} label="Resource group" value={shown.poolId} onChange={(poolId) => onChange({ ...shown, poolId })} options={(choices?.pools ?? []).map((p) => ({ value: p.id, label: p.name }))} />
    </>
  );
}
