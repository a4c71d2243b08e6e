/** What the login and version routes read besides Auth: the caller's own user record. */
import type { Actor } from '../core/actor.ts';
import { notFound } from '../core/errors.ts';
import type { User } from '../core/types.ts';
import type { ServiceContext } from './context.ts';

export function systemService(ctx: ServiceContext) {
  return {
    /** The caller's user as stored now (after a password change, say). */
    async me(actor: Actor): Promise<User> {
      const u = actor.kind === 'user' ? await ctx.store.users.byId(actor.userId) : undefined;
      if (!u) throw notFound('User', actor.name);
      return u;
    },
  };
}

export type SystemService = ReturnType<typeof systemService>;
