/** `census identity list|add|remove`: stored credentials (passwords and SSH keys). */
import { idArg, required, secretOptions, SECRET_OPTIONS, type Command } from '../command.ts';
import { ApiError } from '../errors.ts';
import type { Api, Json } from '../http.ts';
import { table } from '../format.ts';

const PATHS = { password: '/api/identity/user', key: '/api/identity/key' } as const;

export const identityList: Command = {
  words: ['identity', 'list'],
  synopsis: '',
  summary: 'list the stored credentials (never their secrets)',
  help: '  --json        one JSON array: the password identities, then the SSH-key identities',
  async run(ctx) {
    const api = ctx.api();
    const [users, keys] = await Promise.all([api.list(PATHS.password, 'users'), api.list(PATHS.key, 'keys')]);
    const all = [...users, ...keys];
    if (ctx.json) return ctx.printJson(all);
    if (!all.length) return ctx.print('No identities.');
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'user', 'kind'],
      all.map((i: Json) => [i.id, i.name, i.username, i.resourceType === 'identitykey' ? 'ssh key' : 'password']),
    ));
  },
};

export const identityAdd: Command = {
  words: ['identity', 'add'],
  synopsis: '--name N --user U (--password P | --password-stdin | --key FILE [--passphrase P])',
  summary: 'store a user name with a password or an SSH private key',
  help: `  --name N          the name Census shows
  --user U          the user name
  --password P      the password; --password-stdin reads it from standard input instead
  --key FILE        an SSH private key (OpenSSH or PEM); --passphrase if it has one

Here --user and --password are the credentials being stored; the login to Census then comes
from CENSUS_USER/CENSUS_PASSWORD, the config file or the session saved by census login.`,
  options: { name: { type: 'string' }, ...SECRET_OPTIONS },
  ownCredentials: true,
  async run(ctx) {
    const name = required(ctx, 'name');
    const username = required(ctx, 'user');
    const secret = await secretOptions(ctx);
    const created = secret.kind === 'key'
      ? await ctx.api().post(PATHS.key, { name, username, privatekey: secret.privatekey, ...(secret.passphrase !== undefined ? { passphrase: secret.passphrase } : {}) })
      : await ctx.api().post(PATHS.password, { name, username, password: secret.password });
    if (ctx.json) return ctx.printJson(created);
    ctx.print(`Added identity ${created.name} (id ${created.id}, ${secret.kind === 'key' ? 'SSH key' : 'password'} for ${created.username}).`);
  },
};

/** The identity and its collection path: ids are shared by both kinds. */
async function findIdentity(api: Api, id: string): Promise<{ identity: Json; path: string }> {
  try {
    return { identity: await api.get(`${PATHS.password}/${id}`), path: PATHS.password };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  return { identity: await api.get(`${PATHS.key}/${id}`), path: PATHS.key };
}

export const identityRemove: Command = {
  words: ['identity', 'remove'],
  synopsis: 'ID',
  summary: 'delete an identity (refused while application servers use it)',
  help: '  --json        the removed identity as the API gave it just before',
  args: ['ID'],
  async run(ctx) {
    const id = idArg(ctx, 0, 'ID');
    const api = ctx.api();
    const { identity, path } = await findIdentity(api, id);
    await api.delete(`${path}/${id}`);
    if (ctx.json) return ctx.printJson(identity);
    ctx.print(`Removed identity ${identity.name} (id ${identity.id}).`);
  },
};
