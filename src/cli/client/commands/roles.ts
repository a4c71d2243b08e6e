/**
 * `census role list|show|add|edit`: roles on /api/security/role. Built-in roles (SUPERUSER,
 * Application Admin, Monitor, Inventory Operator) cannot be changed; custom ones hold any of the
 * permissions GET /api/security/permission lists.
 */
import { str, type Command, type Ctx } from '../command.ts';
import { UsageError } from '../errors.ts';
import { fields, table } from '../format.ts';
import type { Json } from '../http.ts';
import { findByNameOrId, ROLES } from './users.ts';

const typeOf = (r: Json) => (r.type === 'BUILTIN' ? 'built-in' : 'custom');

/** `--permissions a.view,b.run` → ['a.view', 'b.run']. */
function permissionsOption(ctx: Ctx): string[] | undefined {
  const v = str(ctx, 'permissions');
  if (v === undefined) return undefined;
  return v.split(',').map((p) => p.trim()).filter(Boolean);
}

export const roleList: Command = {
  words: ['role', 'list'],
  synopsis: '',
  summary: 'list the roles, built-in and custom',
  help: '  --json        one JSON array of the roles as the API gives them',
  async run(ctx) {
    const roles = await ctx.api().list(ROLES, 'roles');
    if (ctx.json) return ctx.printJson(roles);
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'type', { title: 'permissions', align: 'right' }, 'description'],
      roles.map((r: Json) => [r.id, r.name, typeOf(r), (r.permissionIds ?? []).length, r.description]),
    ));
  },
};

export const roleShow: Command = {
  words: ['role', 'show'],
  synopsis: 'ROLE',
  summary: 'show one role and the permissions it holds',
  help: '  ROLE          a name or id\n  --json        the role as the API gives it',
  args: ['ROLE'],
  async run(ctx) {
    const r = await findByNameOrId(ctx.api(), ROLES, 'roles', 'role', ctx.args[0]!);
    if (ctx.json) return ctx.printJson(r);
    ctx.print(`Role ${r.name}`, fields([['id', r.id], ['type', typeOf(r)], ['description', r.description]]), '', 'Permissions:');
    ctx.print(...((r.permissionIds ?? []) as string[]).map((p) => `  ${p}`));
  },
};

export const roleAdd: Command = {
  words: ['role', 'add'],
  synopsis: 'NAME --permissions P1,P2,… [--description D]',
  summary: 'add a custom role',
  help: `  --permissions P1,P2   the permission keys, comma-separated (e.g. appserver.view,policy.view);
                        GET /api/security/permission lists them all
  --description D       what the role is for
  --json                the new role as the API gives it`,
  options: { permissions: { type: 'string' }, description: { type: 'string' } },
  args: ['NAME'],
  async run(ctx) {
    const permissionIds = permissionsOption(ctx);
    if (!permissionIds) throw new UsageError('--permissions is required', ctx.usage);
    const description = str(ctx, 'description');
    const r = await ctx.api().post(ROLES, { name: ctx.args[0], permissionIds, ...(description !== undefined ? { description } : {}) });
    if (ctx.json) return ctx.printJson(r);
    ctx.print(`Added role ${r.name} (id ${r.id}) with ${r.permissionIds.length} permission(s).`);
  },
};

export const roleEdit: Command = {
  words: ['role', 'edit'],
  synopsis: 'ROLE [--name N] [--permissions P1,P2,…] [--description D]',
  summary: 'change a custom role (--permissions replaces what it holds)',
  help: `  ROLE                  a name or id
  --name N              a new name
  --permissions P1,P2   the permission keys it holds from now on, comma-separated
  --description D       a new description
  --json                the role as the API gives it after the change`,
  options: { name: { type: 'string' }, permissions: { type: 'string' }, description: { type: 'string' } },
  args: ['ROLE'],
  async run(ctx) {
    const permissionIds = permissionsOption(ctx);
    const name = str(ctx, 'name');
    const description = str(ctx, 'description');
    if (!permissionIds && name === undefined && description === undefined) throw new UsageError('give at least one of --name, --permissions, --description', ctx.usage);
    const api = ctx.api();
    const role = await findByNameOrId(api, ROLES, 'roles', 'role', ctx.args[0]!);
    const body = { ...(name !== undefined ? { name } : {}), ...(description !== undefined ? { description } : {}), ...(permissionIds ? { permissionIds } : {}) };
    const r = (await api.request('PUT', `${ROLES}/${role.id}`, { body })).json;
    if (ctx.json) return ctx.printJson(r);
    ctx.print(`Changed role ${r.name} (id ${r.id}): ${r.permissionIds.length} permission(s).`);
  },
};
