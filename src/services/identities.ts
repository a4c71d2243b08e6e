/**
 * Identities: the credentials application servers log in with. Secrets are sealed on the way in
 * and never leave a service again; reads return the identity without its secret's clear text.
 */
import type { Actor } from '../core/actor.ts';
import { conflict, invalid, notFound } from '../core/errors.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { Identity } from '../core/types.ts';
import type { ServiceContext } from './context.ts';

export type IdentityKind = 'password' | 'key';

/** A new identity as a caller gives it. */
export interface IdentityInput {
  username: string;
  name?: string;
  /** For a password identity. */
  password?: string;
  /** For a key identity: OpenSSH or PEM. */
  privateKey?: string;
  passphrase?: string;
  type?: string;
  ostype?: string;
  comment?: string | null;
}

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Checks and seals a new identity without saving it. `emptyPassword`: an empty or absent password
 * is a login with none, for a server that asks for none (a registration to a type whose collector
 * says `passwordOptional`; a CSV leaves an empty cell out); elsewhere an empty password is far more
 * likely a mistake than a choice.
 */
export function identityDraft(ctx: ServiceContext, input: IdentityInput, kind: IdentityKind, emptyPassword = false): Omit<Identity, 'id'> {
  if (!input.username) throw invalid('"username" is required.');
  let sealed: string;
  if (kind === 'password') {
    const password = input.password ?? (emptyPassword ? '' : undefined);
    if (typeof password !== 'string' || (password === '' && !emptyPassword)) throw invalid('"password" is required and must be a string.');
    if (password.length > 1024) throw invalid('"password" is longer than 1024 characters.');
    sealed = ctx.secrets.seal(password);
  } else {
    const { privateKey } = input;
    if (typeof privateKey !== 'string' || !PRIVATE_KEY.test(privateKey)) {
      throw invalid('"privatekey" is required: an SSH private key in OpenSSH or PEM form (-----BEGIN … PRIVATE KEY-----).');
    }
    if (privateKey.length > 16_384) throw invalid('"privatekey" is longer than 16 KiB.');
    sealed = ctx.secrets.seal(JSON.stringify({ privateKey, passphrase: input.passphrase ?? null }));
  }
  return {
    name: input.name ?? input.username,
    username: input.username,
    kind,
    secret: sealed,
    type: input.type ?? 'system',
    ostype: (input.ostype ?? 'LINUX').toUpperCase(),
    comment: input.comment ?? null,
    createdAt: ctx.clock.now(),
  };
}

export function identityService(ctx: ServiceContext) {
  const { store } = ctx;

  async function get(_actor: Actor, id: number, kind?: IdentityKind): Promise<Identity> {
    const i = await store.identities.get(id);
    if (!i || (kind && i.kind !== kind)) throw notFound('Identity', id);
    return i;
  }

  return {
    get,
    list(_actor: Actor, q: ListQuery, kind: IdentityKind): Promise<ListResult<Identity>> {
      return store.identities.list(q, kind);
    },
    create(_actor: Actor, input: IdentityInput, kind: IdentityKind): Promise<Identity> {
      return store.identities.create(identityDraft(ctx, input, kind));
    },
    /** Refused while application servers log in with it. */
    async delete(actor: Actor, id: number, kind?: IdentityKind): Promise<void> {
      const i = await get(actor, id, kind);
      await store.transaction(async (r) => {
        const users = await r.identities.usedBy(i.id);
        if (users) throw conflict(`Identity ${i.id} is used by ${users} application server(s); unregister them first.`, 'identity.in-use');
        await r.identities.delete(i.id);
      });
    },
  };
}

export type IdentityService = ReturnType<typeof identityService>;
