/**
 * `census user list|add|disable|enable|remove|passwd|grant|revoke`: users on /api/security/user.
 * A user is named by name or id; a role or resource group likewise. A new user, and one whose
 * password is reset here, sets their own password at the next login. grant and revoke edit the
 * permission sets (role on resource group) a user holds.
 */
import { readStdin } from '../io.ts';
import { str, type Command, type Ctx, type OptionSpec } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
import type { Api, Json } from '../http.ts';
import { humanTime, table } from '../format.ts';

const USERS = '/api/security/user';
export const ROLES = '/api/security/role';
const POOLS = '/api/security/resourcepool';

/** An item of a collection by id (digits) or by exact name, case-insensitive when unambiguous. */
export async function findByNameOrId(api: Api, path: string, key: string, what: string, given: string): Promise<Json> {
  const all = await api.list(path, key);
  const found = /^\d+$/.test(given)
    ? all.find((x: Json) => String(x.id) === given)
    : all.find((x: Json) => x.name === given) ?? (() => {
      const near = all.filter((x: Json) => String(x.name).toLowerCase() === given.toLowerCase());
      return near.length === 1 ? near[0] : undefined;
    })();
  if (!found) throw new CliError(`there is no ${what} ${JSON.stringify(given)}`);
  return found;
}

/** "Monitor on All Resources; Inventory Operator on Team A". */
export function rolesText(u: Json): string {
  const sets: Json[] = Array.isArray(u.permissions) ? u.permissions : [];
  if (!sets.length) return 'no roles';
  return sets.map((s) => `${(s.roles ?? []).map((r: Json) => r.name ?? r.id).join(', ')} on ${s.resourcePool?.name ?? s.resourcePool?.id}`).join('; ');
}

const statusOf = (u: Json) => (u.accountDisabled ? 'disabled' : u.passwordExpired ? 'must set password' : 'enabled');

/** A password from `--NAME P` or `--NAME-stdin` (exactly one). */
async function passwordOption(ctx: Ctx, name: string): Promise<string> {
  const given = [name, `${name}-stdin`].filter((n) => ctx.values[n] !== undefined && ctx.values[n] !== false);
  if (given.length !== 1) throw new UsageError(`give exactly one of --${name} P or --${name}-stdin`, ctx.usage);
  const p = given[0] === name ? str(ctx, name)! : await readStdin(ctx.io);
  if (p.length < 8) throw new UsageError('the password needs at least 8 characters', ctx.usage);
  return p;
}

const passwordOptions = (name: string): Record<string, OptionSpec> => ({ [name]: { type: 'string' }, [`${name}-stdin`]: { type: 'boolean' } });

export const userList: Command = {
  words: ['user', 'list'],
  synopsis: '',
  summary: 'list the users, their roles and whether they may log in',
  help: '  --json        one JSON array of the users as the API gives them',
  async run(ctx) {
    const users = await ctx.api().list(USERS, 'users');
    if (ctx.json) return ctx.printJson(users);
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'status', 'last login', 'roles'],
      users.map((u: Json) => [u.id, u.name, statusOf(u), u.lastLogin ? humanTime(u.lastLogin) : 'never', rolesText(u)]),
    ));
  },
};

export const userAdd: Command = {
  words: ['user', 'add'],
  synopsis: 'NAME --role ROLE [--group GROUP] (--initial-password P | --initial-password-stdin)',
  summary: 'add a user with a role on a resource group; they set their own password at the first login',
  help: `  --role ROLE                a role's name or id (census role list), e.g. Monitor
  --group GROUP              a resource group's name or id (default: All Resources)
  --initial-password P       the password for the first login (8 characters or more);
                             --initial-password-stdin reads it from standard input instead
  --json                     the new user as the API gives it`,
  options: { role: { type: 'string' }, group: { type: 'string' }, ...passwordOptions('initial-password') },
  args: ['NAME'],
  async run(ctx) {
    const roleName = str(ctx, 'role');
    if (!roleName) throw new UsageError('--role is required', ctx.usage);
    const password = await passwordOption(ctx, 'initial-password');
    const api = ctx.api();
    const role = await findByNameOrId(api, ROLES, 'roles', 'role', roleName);
    const pool = await findByNameOrId(api, POOLS, 'resourcePools', 'resource group', str(ctx, 'group') ?? '1000');
    const made = await api.post(USERS, { name: ctx.args[0], password, permissions: [{ resourcePoolId: pool.id, roleIds: [role.id] }] });
    if (ctx.json) return ctx.printJson(made);
    ctx.print(`Added user ${made.name} (id ${made.id}): ${role.name} on ${pool.name}. They set their own password at the first login.`);
  },
};

function enableCommand(disable: boolean): Command {
  return {
    words: ['user', disable ? 'disable' : 'enable'],
    synopsis: 'USER',
    summary: disable ? 'stop a user from logging in (ends their sessions)' : 'let a disabled user log in again',
    help: '  USER          a name or id\n  --json        the user as the API gives it after the change',
    args: ['USER'],
    async run(ctx) {
      const api = ctx.api();
      const u = await findByNameOrId(api, USERS, 'users', 'user', ctx.args[0]!);
      const changed = (await api.request('PUT', `${USERS}/${u.id}`, { body: { accountDisabled: disable } })).json;
      if (ctx.json) return ctx.printJson(changed);
      ctx.print(`${disable ? 'Disabled' : 'Enabled'} user ${changed.name} (id ${changed.id}).`);
    },
  };
}
export const userDisable = enableCommand(true);
export const userEnable = enableCommand(false);

export const userRemove: Command = {
  words: ['user', 'remove'],
  synopsis: 'USER',
  summary: 'delete a user (ends their sessions; refused for the last one who can manage users)',
  help: '  USER          a name or id\n  --json        the removed user as the API gave it just before',
  args: ['USER'],
  async run(ctx) {
    const api = ctx.api();
    const u = await findByNameOrId(api, USERS, 'users', 'user', ctx.args[0]!);
    await api.delete(`${USERS}/${u.id}`);
    if (ctx.json) return ctx.printJson(u);
    ctx.print(`Removed user ${u.name} (id ${u.id}).`);
  },
};

/** A user's permission sets as the API shows them (one entry per group, with its roles), flattened. */
function setsOf(u: Json): { roleId: string; poolId: string }[] {
  const entries: Json[] = Array.isArray(u.permissions) ? u.permissions : [];
  return entries.flatMap((p) => (p.roles ?? []).map((r: Json) => ({ roleId: String(r.id), poolId: String(p.resourcePool?.id) })));
}

/** The sets in the shape PUT /api/security/user/{id} takes: one entry per group. */
function setsBody(sets: { roleId: string; poolId: string }[]): Json[] {
  const byPool = new Map<string, number[]>();
  for (const s of sets) byPool.set(s.poolId, [...(byPool.get(s.poolId) ?? []), Number(s.roleId)]);
  return [...byPool].map(([poolId, roleIds]) => ({ resourcePoolId: Number(poolId), roleIds }));
}

function permissionCommand(grant: boolean): Command {
  return {
    words: ['user', grant ? 'grant' : 'revoke'],
    synopsis: 'USER --role ROLE [--group GROUP]',
    summary: grant ? 'give a user a role on a resource group (a permission set)' : 'take a role on a resource group from a user',
    help: `  USER          a name or id
  --role ROLE   a role's name or id (census role list)
  --group GROUP a resource group's name or id (default: All Resources)
  --json        the user as the API gives it after the change
The server refuses a change that would leave no enabled user who can manage users. A directory
(LDAP) user's sets are replaced by what their groups give at their next login.`,
    options: { role: { type: 'string' }, group: { type: 'string' } },
    args: ['USER'],
    async run(ctx) {
      const roleName = str(ctx, 'role');
      if (!roleName) throw new UsageError('--role is required', ctx.usage);
      const api = ctx.api();
      const u = await findByNameOrId(api, USERS, 'users', 'user', ctx.args[0]!);
      const role = await findByNameOrId(api, ROLES, 'roles', 'role', roleName);
      const pool = await findByNameOrId(api, POOLS, 'resourcePools', 'resource group', str(ctx, 'group') ?? '1000');
      const sets = setsOf(u);
      const same = (s: { roleId: string; poolId: string }) => s.roleId === String(role.id) && s.poolId === String(pool.id);
      const held = sets.some(same);
      if (grant && held) {
        if (ctx.json) return ctx.printJson(u);
        return ctx.print(`${u.name} holds ${role.name} on ${pool.name} already.`);
      }
      if (!grant && !held) throw new CliError(`${u.name} does not hold ${role.name} on ${pool.name} (they hold: ${rolesText(u)})`);
      const next = grant ? [...sets, { roleId: String(role.id), poolId: String(pool.id) }] : sets.filter((s) => !same(s));
      const changed = (await api.request('PUT', `${USERS}/${u.id}`, { body: { permissions: setsBody(next) } })).json;
      if (ctx.json) return ctx.printJson(changed);
      ctx.print(`${grant ? 'Gave' : 'Took'} ${role.name} on ${pool.name} ${grant ? 'to' : 'from'} ${changed.name}; they hold: ${rolesText(changed)}.`);
      if (changed.type === 'LDAP_USER') ctx.print('They log in through a directory: their next login sets what their groups give.');
    },
  };
}
export const userGrant = permissionCommand(true);
export const userRevoke = permissionCommand(false);

export const userPasswd: Command = {
  words: ['user', 'passwd'],
  synopsis: 'USER (--new-password P | --new-password-stdin) [--old-password P]',
  summary: "change your own password, or set another user's (they change it at the next login)",
  help: `  USER                   a name or id
  --new-password P       the new password (8 characters or more); --new-password-stdin reads it
                         from standard input instead
  --old-password P       your current password: changes your own password (your other
                         sessions end). Without it the password is reset, which needs the
                         permission user.edit, and the user must change it at the next login.`,
  options: { ...passwordOptions('new-password'), 'old-password': { type: 'string' } },
  args: ['USER'],
  async run(ctx) {
    const newPassword = await passwordOption(ctx, 'new-password');
    const old = str(ctx, 'old-password');
    const api = ctx.api();
    // Your own user is readable without user.view: ask the session who you are first.
    const me = (await api.get('/api/endeavour/session')).user as Json;
    const given = ctx.args[0]!;
    const self = given === String(me.id) || given === me.name;
    const u = self ? me : await findByNameOrId(api, USERS, 'users', 'user', given);
    if (old !== undefined) {
      await api.post(`${USERS}/${u.id}`, { oldPassword: old, newPassword }, { action: 'changePassword' });
      if (ctx.json) return ctx.printJson({ id: u.id, name: u.name, changed: true });
      return ctx.print(`Changed the password of ${u.name}.`);
    }
    const changed = (await api.request('PUT', `${USERS}/${u.id}`, { body: { password: newPassword } })).json;
    if (ctx.json) return ctx.printJson(changed);
    ctx.print(`Set a new password for ${changed.name}; they must change it at the next login.`);
  },
};
