/** `census appserver list|add|remove|test|types`. */
import { choice, flag, idArg, intOption, required, secretOptions, SECRET_OPTIONS, str, type Command } from '../command.ts';
import { collectorList, collectorOf } from '../collectors.ts';
import { EXIT, UsageError } from '../errors.ts';
import { hrefId, table } from '../format.ts';
import type { Json } from '../http.ts';

const TLS_MODES = ['disable', 'require', 'verify'] as const;

export const appserverTypes: Command = {
  words: ['appserver', 'types'],
  synopsis: '',
  summary: 'list the application types the server can inventory (for --type), with their default ports and logins',
  async run(ctx) {
    const list = await collectorList(ctx.api());
    if (ctx.json) return ctx.printJson(list);
    ctx.print(table(
      ['type', 'name', 'group', { title: 'port', align: 'right' }, 'login', 'tls', 'holds'],
      list.map((c: Json) => [
        c.type, c.displayName, c.group, c.defaultPort ?? '-', (c.identityKinds ?? []).map((k: string) => (k === 'key' ? 'ssh key' : k === 'password' && c.passwordOptional ? 'password or none' : k)).join(', '),
        c.tls ? 'yes' : 'no', (c.childTypes ?? []).join(', '),
      ]),
    ));
  },
};

export const appserverList: Command = {
  words: ['appserver', 'list'],
  synopsis: '[--type TYPE]',
  summary: 'list the registered application servers',
  options: { type: { type: 'string' } },
  async run(ctx) {
    const type = str(ctx, 'type');
    const servers = await ctx.api().list('/api/appserver', 'appservers', type ? { filter: JSON.stringify([{ property: 'applicationType', value: type.toLowerCase(), op: '=' }]) } : {});
    if (ctx.json) return ctx.printJson(servers);
    if (!servers.length) return ctx.print('No application servers are registered.');
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'type', 'host', { title: 'port', align: 'right' }, 'tls', 'login', { title: 'identity', align: 'right' }],
      servers.map((a: Json) => [
        a.id, a.name, a.applicationType, a.hostAddress, a.portNumber ?? 'default', a.tls,
        a.useKeyAuthentication ? 'ssh key' : 'password', hrefId((a.useKeyAuthentication ? a.oskey : a.osuser)?.href),
      ]),
    ));
  },
};

export const appserverAdd: Command = {
  words: ['appserver', 'add'],
  synopsis: '--name N --host H [--port P] --type TYPE --user U (--password P | --password-stdin | --key FILE [--passphrase P] | --no-password) [--tls disable|require|verify] [--no-inventory]',
  summary: 'register an application server (POST /ngp/appserver) and inventory it',
  help: `  --name N          the name Census shows
  --host H          host name or IP address
  --port P          its port (default: the type's port)
  --type T          an application type the server can inventory: census appserver types
                    lists them, with their default ports and the logins they take
  --user U          the login Census uses on that server (a database user, or the SSH user)
  --password P      its password; --password-stdin reads it from standard input instead
  --no-password     the server asks for none (types that allow it, e.g. redis whose default
                    user has no password: --user default --no-password)
  --key FILE        an SSH private key, for types that log in over SSH; --passphrase if the key has one
  --tls MODE        for types with TLS: disable (default), require (any certificate) or verify
  --no-inventory    only register; do not start the Application Server Inventory for it

Here --user and --password are the server's credentials; the login to Census then comes
from CENSUS_USER/CENSUS_PASSWORD, the config file or the session saved by census login.`,
  options: {
    name: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, type: { type: 'string' },
    tls: { type: 'string' }, 'no-inventory': { type: 'boolean' }, 'no-password': { type: 'boolean' }, ...SECRET_OPTIONS,
  },
  ownCredentials: true,
  async run(ctx) {
    const name = required(ctx, 'name');
    const host = required(ctx, 'host');
    const typeName = required(ctx, 'type');
    const user = required(ctx, 'user');
    const port = intOption(ctx, 'port', 1, 65535);
    const tls = choice(ctx, 'tls', TLS_MODES);
    // The server says which types it can inventory and how each logs in.
    const collector = collectorOf(await collectorList(ctx.api()), typeName, ctx.usage);
    const type: string = collector.type;
    if (tls && !collector.tls) throw new UsageError(`--tls does not apply to ${type}`, ctx.usage);
    const kind = str(ctx, 'key') !== undefined ? 'key' : 'password';
    if (!(collector.identityKinds ?? []).includes(kind)) {
      throw new UsageError(kind === 'key' ? `${type} does not log in with an SSH key: give --password` : `${type} logs in with an SSH key: give --key FILE`, ctx.usage);
    }
    const secret = await secretOptions(ctx, { allowed: collector.passwordOptional === true, type });
    const body: Record<string, unknown> = {
      name, hostAddress: host, applicationType: type, username: user,
      ...(port !== undefined ? { portNumber: port } : {}),
      ...(tls ? { tls } : {}),
      ...(secret.kind === 'key'
        ? { useKeyAuthentication: true, privatekey: secret.privatekey, ...(secret.passphrase !== undefined ? { passphrase: secret.passphrase } : {}) }
        : { password: secret.password }),
      addToCatJob: !flag(ctx, 'no-inventory'),
    };
    const reply = await ctx.api().post('/ngp/appserver', body);
    if (ctx.json) return ctx.printJson(reply);
    const a = reply?.response ?? reply;
    ctx.print(`Registered ${a.name} (id ${a.id}): ${a.applicationType} at ${a.hostAddress}${a.portNumber ? `:${a.portNumber}` : ''}.`);
    ctx.print(flag(ctx, 'no-inventory')
      ? `Not inventoried yet; run census job run 1004 --wait when you want it.`
      : `The Application Server Inventory is running for it; watch it with: census job status 1004 --wait`);
  },
};

export const appserverRemove: Command = {
  words: ['appserver', 'remove'],
  synopsis: 'ID',
  summary: 'unregister an application server (its inventory is kept)',
  help: '  --json        the removed server as the API gave it just before',
  args: ['ID'],
  async run(ctx) {
    const id = idArg(ctx, 0, 'ID');
    const api = ctx.api();
    const a = await api.get(`/api/appserver/${id}`);
    await api.delete(`/api/appserver/${id}`);
    if (ctx.json) return ctx.printJson(a);
    ctx.print(`Removed application server ${a.name} (id ${a.id}).`);
  },
};

export const appserverTest: Command = {
  words: ['appserver', 'test'],
  synopsis: 'ID',
  summary: 'test the connection and privileges (exit 4 if a check FAILED)',
  args: ['ID'],
  async run(ctx) {
    const id = idArg(ctx, 0, 'ID');
    const reply = await ctx.api().post(`/api/appserver/${id}`, undefined, { action: 'test' }, 180_000);
    const checks: Json[] = (reply?.configGroups ?? []).flatMap((g: Json) => (Array.isArray(g?.tests) ? g.tests : []));
    const failed = checks.some((c) => c?.status === 'FAILED');
    if (ctx.json) ctx.printJson(reply);
    else {
      ctx.print(table(['result', 'check', 'description', 'message'], checks.map((c) => [c.status, c.name, c.description, c.message ?? ''])));
      ctx.print(failed ? `${checks.filter((c) => c?.status === 'FAILED').length} check(s) FAILED.` : 'No check FAILED.');
    }
    return failed ? EXIT.FAILED : EXIT.OK;
  },
};
