/**
 * `census hypervisor list|register|show|update|remove|test|inventory`: hypervisors on
 * /api/hypervisor (docs/hypervisors.md). A hypervisor is named by name or id; its login is an
 * existing identity (`--identity`) or credentials given inline, which the server keeps as a new
 * identity, as `census appserver add` does.
 */
import { flag, intOption, secretOptions, SECRET_OPTIONS, str, timeoutOption, type Command, type Ctx } from '../command.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import { fields, hrefId, humanSize, humanTime, table } from '../format.ts';
import type { Api, Json } from '../http.ts';
import { waitForSession } from '../wait.ts';
import { findByNameOrId } from './users.ts';

const HYPERVISORS = '/api/hypervisor';
export const VM_CATALOG = '/api/endeavour/catalog/hypervisor/vm';

/** A hypervisor by id (digits) or exact name. */
export function findHypervisor(api: Api, given: string): Promise<Json> {
  return findByNameOrId(api, HYPERVISORS, 'hypervisors', 'hypervisor', given);
}

/** A filter on one property, as SPP's collections take it. */
export const filterOn = (property: string, value: string) => JSON.stringify([{ property, value, op: '=' }]);

/** The site's id, from its name or id. */
async function siteId(api: Api, given: string): Promise<string> {
  return String((await findByNameOrId(api, '/api/site', 'sites', 'site', given)).id);
}

/** An identity of either kind, by name or id; answers its href (a key's href makes the login a key login). */
async function identityHref(api: Api, given: string): Promise<string> {
  const [users, keys] = await Promise.all([api.list('/api/identity/user', 'users'), api.list('/api/identity/key', 'keys')]);
  const all = [...users, ...keys];
  const found = /^\d+$/.test(given)
    ? all.find((i: Json) => String(i.id) === given)
    : all.find((i: Json) => i.name === given) ?? (() => {
        const near = all.filter((i: Json) => String(i.name).toLowerCase() === given.toLowerCase());
        return near.length === 1 ? near[0] : undefined;
      })();
  if (!found) throw new CliError(`there is no identity ${JSON.stringify(given)} (census identity list shows them)`);
  const href = found.links?.self?.href;
  if (typeof href !== 'string') throw new CliError(`the server gave no link for identity ${JSON.stringify(given)}`);
  return href;
}

const LOGIN_HELP = `  --identity I      log in with a stored identity (name or id; census identity list), or give:
  --user U          the login on the host (SSH user), with
  --password P      its password; --password-stdin reads it from standard input instead
  --key FILE        an SSH private key; --passphrase if the key has one`;

/** The login fields of a registration or update: `user` (an identity) or inline credentials; none if `optional` and nothing given. */
async function loginFields(ctx: Ctx, optional: boolean): Promise<Record<string, unknown>> {
  const identity = str(ctx, 'identity');
  const user = str(ctx, 'user');
  const secretGiven = ['password', 'password-stdin', 'key', 'passphrase'].some((n) => ctx.values[n] !== undefined && ctx.values[n] !== false);
  if (identity !== undefined) {
    if (user !== undefined || secretGiven) throw new UsageError('give --identity, or --user with a password or key, not both', ctx.usage);
    return { user: { href: await identityHref(ctx.api(), identity) } };
  }
  if (user === undefined) {
    if (secretGiven) throw new UsageError('--user is required with --password or --key', ctx.usage);
    if (optional) return {};
    throw new UsageError('give --identity I, or --user U with --password P, --password-stdin or --key FILE', ctx.usage);
  }
  if (user === '') throw new UsageError('--user is empty', ctx.usage);
  const secret = await secretOptions(ctx);
  return secret.kind === 'key'
    ? { username: user, useKeyAuthentication: true, privatekey: secret.privatekey, ...(secret.passphrase !== undefined ? { passphrase: secret.passphrase } : {}) }
    : { username: user, useKeyAuthentication: false, password: secret.password };
}

const loginCell = (h: Json) => `${h.useKeyAuthentication ? 'ssh key' : 'password'} ${hrefId(h.user?.href) ?? '-'}`;

export const hypervisorList: Command = {
  words: ['hypervisor', 'list'],
  synopsis: '[--type TYPE]',
  summary: 'list the registered hypervisors',
  help: '  --type T      only hypervisors of this type (kvm)',
  options: { type: { type: 'string' } },
  async run(ctx) {
    const type = str(ctx, 'type');
    const list = await ctx.api().list(HYPERVISORS, 'hypervisors', type ? { filter: filterOn('type', type.toLowerCase()) } : {});
    if (ctx.json) return ctx.printJson(list);
    if (!list.length) return ctx.print('No hypervisors are registered.');
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'type', 'host', { title: 'port', align: 'right' }, 'uri', 'site', 'version', 'login'],
      list.map((h: Json) => [h.id, h.name, h.type, h.hostAddress, h.portNumber ?? 'default', h.uri ?? 'qemu:///system', h.siteName, h.version, loginCell(h)]),
    ));
  },
};

const SETTINGS_OPTIONS = {
  name: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, uri: { type: 'string' }, site: { type: 'string' },
  identity: { type: 'string' }, ...SECRET_OPTIONS,
} as const;

/** The settings both register and update take. */
async function settings(ctx: Ctx): Promise<Record<string, unknown>> {
  const port = intOption(ctx, 'port', 1, 65535);
  const uri = str(ctx, 'uri');
  const site = str(ctx, 'site');
  const name = str(ctx, 'name');
  const host = str(ctx, 'host');
  if (name === '') throw new UsageError('--name is empty', ctx.usage);
  if (host === '') throw new UsageError('--host is empty', ctx.usage);
  if (uri === '') throw new UsageError('--uri is empty', ctx.usage);
  return {
    ...(name !== undefined ? { name } : {}),
    ...(host !== undefined ? { hostAddress: host } : {}),
    ...(port !== undefined ? { portNumber: port } : {}),
    ...(uri !== undefined ? { uri } : {}),
    ...(site !== undefined ? { siteId: await siteId(ctx.api(), site) } : {}),
  };
}

export const hypervisorRegister: Command = {
  words: ['hypervisor', 'register'],
  synopsis: '--host H [--name N] [--type kvm] [--port P] [--uri URI] [--site S] (--identity I | --user U (--password P | --password-stdin | --key FILE [--passphrase P])) [--no-inventory]',
  summary: 'register a hypervisor (POST /api/hypervisor) and inventory it',
  help: `  --host H          host name or IP address of the hypervisor host
  --name N          the name Census shows (default: the host)
  --type T          the hypervisor type (default kvm: libvirt over SSH)
  --port P          its SSH port (default 22)
  --uri URI         the libvirt URI on the host (default qemu:///system)
  --site S          the site it belongs to, by name or id (default Primary)
${LOGIN_HELP}
  --no-inventory    only register; do not start the Hypervisor Inventory (job 1005) for it

Here --user and --password are the host's credentials; the login to Census then comes
from CENSUS_USER/CENSUS_PASSWORD, the config file or the session saved by census login.`,
  options: { ...SETTINGS_OPTIONS, type: { type: 'string' }, 'no-inventory': { type: 'boolean' } },
  ownCredentials: true,
  async run(ctx) {
    if (str(ctx, 'host') === undefined) throw new UsageError('--host is required', ctx.usage);
    const body = {
      type: (str(ctx, 'type') ?? 'kvm').toLowerCase(),
      ...(await settings(ctx)),
      ...(await loginFields(ctx, false)),
      addToCatJob: !flag(ctx, 'no-inventory'),
    };
    const h = await ctx.api().post(HYPERVISORS, body);
    if (ctx.json) return ctx.printJson(h);
    ctx.print(`Registered hypervisor ${h.name} (id ${h.id}): ${h.type} at ${h.hostAddress}${h.portNumber ? `:${h.portNumber}` : ''}, site ${h.siteName}.`);
    ctx.print(flag(ctx, 'no-inventory')
      ? `Not inventoried yet; run census hypervisor inventory ${h.id} --wait when you want it.`
      : 'The Hypervisor Inventory is running for it; watch it with: census job status 1005 --wait');
  },
};

/** "3 (2 on, 1 off)": how many VMs, by power state. */
function vmCounts(vms: Json[]): string {
  const by = new Map<string, number>();
  for (const v of vms) {
    const state = POWER_WORDS[v?.properties?.powerSummary?.powerState] ?? 'unknown state';
    by.set(state, (by.get(state) ?? 0) + 1);
  }
  const parts = [...by].map(([state, n]) => `${n} ${state}`);
  return `${vms.length}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** SPP's power states in the words `census vm list --state` takes. */
export const POWER_WORDS: Record<string, string> = { POWERED_ON: 'on', POWERED_OFF: 'off', SUSPENDED: 'suspended' };

export const hypervisorShow: Command = {
  words: ['hypervisor', 'show'],
  synopsis: 'NAME|ID',
  summary: 'show a hypervisor and what its last inventory found (VMs, version)',
  help: '  --json        the hypervisor as the API gives it, with "vms": the VMs of the catalog on it',
  args: ['NAME|ID'],
  async run(ctx) {
    const api = ctx.api();
    const h = await findHypervisor(api, ctx.args[0]!);
    const vms = await api.list(VM_CATALOG, 'children', { filter: filterOn('hypervisorId', String(h.id)) });
    if (ctx.json) return ctx.printJson({ ...h, vms });
    // catalogTime: when an inventory last found the VM; the latest is when the host was last read.
    const lastFound = Math.max(0, ...vms.map((v: Json) => Number(v?.catalogTime ?? 0)).filter(Number.isFinite));
    const allocated = vms.reduce((n: number, v: Json) => n + (Number(v?.properties?.storageSummary?.commited) || 0), 0);
    ctx.print(`Hypervisor ${h.id}  ${h.name}`, fields([
      ['type', h.type],
      ['host', `${h.hostAddress}${h.portNumber ? `:${h.portNumber}` : ''}`],
      ['libvirt URI', h.uri ?? 'qemu:///system (default)'],
      ['site', h.siteName],
      ['login', `${h.useKeyAuthentication ? 'SSH key' : 'password'}, identity ${hrefId(h.user?.href) ?? '-'}`],
      ['comment', h.comment],
      ['version', h.version ?? 'not inventoried yet'],
      ['VMs', vmCounts(vms)],
      ['VM storage', vms.length ? humanSize(allocated) : undefined],
      ['last found', lastFound ? humanTime(lastFound) : undefined],
    ]));
  },
};

export const hypervisorUpdate: Command = {
  words: ['hypervisor', 'update'],
  synopsis: 'NAME|ID [--name N] [--host H] [--port P] [--uri URI] [--site S] [--identity I | --user U (--password P | --password-stdin | --key FILE)]',
  summary: 'change a hypervisor\'s registration in place (it keeps its id and inventory)',
  help: `  --name N          a new name
  --host H          a new host name or address
  --port P          a new SSH port
  --uri URI         a new libvirt URI
  --site S          move it to this site (name or id)
${LOGIN_HELP}
Options left out stay as they are; the type cannot change.`,
  args: ['NAME|ID'],
  options: SETTINGS_OPTIONS,
  ownCredentials: true,
  async run(ctx) {
    const api = ctx.api();
    const h = await findHypervisor(api, ctx.args[0]!);
    const body = { ...(await settings(ctx)), ...(await loginFields(ctx, true)) };
    if (!Object.keys(body).length) throw new UsageError('nothing to change: give at least one option', ctx.usage);
    const updated = await api.request('PUT', `${HYPERVISORS}/${h.id}`, { body });
    if (ctx.json) return ctx.printJson(updated.json);
    ctx.print(`Updated hypervisor ${updated.json.name} (id ${updated.json.id}).`);
  },
};

export const hypervisorRemove: Command = {
  words: ['hypervisor', 'remove'],
  synopsis: 'NAME|ID',
  summary: 'unregister a hypervisor (what it found is kept; its VMs leave the catalog)',
  help: '  --json        the removed hypervisor as the API gave it just before',
  args: ['NAME|ID'],
  async run(ctx) {
    const api = ctx.api();
    const h = await findHypervisor(api, ctx.args[0]!);
    await api.delete(`${HYPERVISORS}/${h.id}`);
    if (ctx.json) return ctx.printJson(h);
    ctx.print(`Removed hypervisor ${h.name} (id ${h.id}).`);
  },
};

export const hypervisorTest: Command = {
  words: ['hypervisor', 'test'],
  synopsis: 'NAME|ID',
  summary: 'test the connection to a hypervisor (exit 4 if a check FAILED)',
  args: ['NAME|ID'],
  async run(ctx) {
    const api = ctx.api();
    const h = await findHypervisor(api, ctx.args[0]!);
    const reply = await api.post(`${HYPERVISORS}/${h.id}`, undefined, { action: 'test' }, 180_000);
    const checks: Json[] = (reply?.configGroups ?? []).flatMap((g: Json) => (Array.isArray(g?.tests) ? g.tests : []));
    const failed = checks.filter((c) => c?.status === 'FAILED').length;
    if (ctx.json) ctx.printJson(reply);
    else {
      ctx.print(table(['result', 'check', 'description', 'message'], checks.map((c) => [c.status, c.name, c.description, c.message ?? ''])));
      ctx.print(failed ? `${failed} check(s) FAILED.` : 'No check FAILED.');
    }
    return failed ? EXIT.FAILED : EXIT.OK;
  },
};

export const hypervisorInventory: Command = {
  words: ['hypervisor', 'inventory'],
  synopsis: 'NAME|ID [--wait] [--follow] [--timeout S]',
  summary: 'inventory one hypervisor now (job 1005); with --wait, wait and exit with the session\'s result',
  help: `  --wait        wait for the session to end, showing progress; the exit code tells the result
                (if job 1005 was already running, the hypervisor joins that session, and the
                result is that session's, for every hypervisor in it)
  --follow      print the session's log entries as they are written (implies --wait)
  --timeout S   stop waiting after S seconds (implies --wait); exit 6 if it is still running`,
  args: ['NAME|ID'],
  options: { wait: { type: 'boolean' }, follow: { type: 'boolean' }, timeout: { type: 'string' } },
  async run(ctx) {
    const follow = flag(ctx, 'follow');
    const timeoutMs = timeoutOption(ctx);
    const wait = flag(ctx, 'wait') || follow || timeoutMs !== undefined;
    const api = ctx.api();
    const h = await findHypervisor(api, ctx.args[0]!);
    const reply = await api.post(`${HYPERVISORS}/${h.id}`, undefined, { action: 'inventory' });
    const sessionId = String(reply?.sessionId ?? '');
    if (!wait) {
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(reply?.started === false
        ? `${h.name} joined the running Hypervisor Inventory, session ${sessionId}.`
        : `Started the Hypervisor Inventory for ${h.name} as session ${sessionId}.`, `Watch it with: census job status 1005 --wait`);
      return;
    }
    if (!sessionId) throw new CliError('the server answered the inventory without a session id');
    if (!ctx.json) ctx.print(`Inventory of ${h.name} is running as session ${sessionId}.`);
    return (await waitForSession(api, ctx.io, sessionId, { follow, timeoutMs, json: ctx.json })).exitCode;
  },
};
