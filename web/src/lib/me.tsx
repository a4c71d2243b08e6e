/**
 * Who is logged in and what they may do: GET /api/endeavour/session, read once per login session
 * and again every minute (an admin may change the user's roles meanwhile). The menu and the
 * buttons ask `can(permission)`; the server checks every call anyway, so this only spares a
 * person buttons that would answer 403. Until the answer is in, nothing gated is shown.
 */
import { createContext, useContext, useMemo, type ReactNode } from 'react';
import { get, sessionId } from '../api/client';
import type { PermissionId, SessionUser } from '../api/types';
import { usePolled } from './usePolled';

export const ME_POLL_MS = 60_000;

export interface MeState {
  user?: SessionUser['user'];
  /** Whether the permissions are known yet. */
  known: boolean;
  can: (p: PermissionId) => boolean;
}

const nobody: MeState = { known: false, can: () => false };
const MeContext = createContext<MeState>(nobody);

export function MeProvider({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const sid = enabled ? sessionId() : null;
  const me = usePolled<SessionUser | null>(
    (signal) => (sid ? get<SessionUser>('/api/endeavour/session', signal) : Promise.resolve(null)),
    `me:${sid ?? ''}`,
    () => (sid ? ME_POLL_MS : null),
  );
  const data = me.data;
  const value = useMemo<MeState>(() => {
    if (!data) return nobody;
    const held = new Set<string>(data.permissionIds);
    return { user: data.user, known: true, can: (p) => held.has(p) };
  }, [data]);
  return <MeContext.Provider value={value}>{children}</MeContext.Provider>;
}

export const useMe = (): MeState => useContext(MeContext);
