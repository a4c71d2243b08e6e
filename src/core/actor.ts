/**
 * Who is asking. Every service takes the caller as an actor: a logged-in user, or Census itself
 * (the scheduler, recovery after a crash, the first start). Logs and sessions record `name`;
 * `access` is what the caller may do (core/permissions.ts): a user's comes from their permission
 * sets, Census itself may do everything.
 */
import { Access } from './permissions.ts';

export type Actor =
  | { readonly kind: 'user'; readonly userId: number; readonly name: string; readonly access: Access; readonly address?: string }
  | { readonly kind: 'system'; readonly name: string; readonly access: Access };

export const userActor = (userId: number, name: string, access: Access, address?: string): Actor =>
  ({ kind: 'user', userId, name, access, ...(address !== undefined ? { address } : {}) });

/** Census acting on its own: `name` says which part ('scheduler', 'census', …). */
export const systemActor = (name: string): Actor => ({ kind: 'system', name, access: Access.everything });
