/**
 * `census site list|create|update|delete` (/api/site) and `census worker list` (/api/vadp, the
 * processes that run tasks): docs/sites.md. A site is named by name or id.
 */
import { str, type Command, type Ctx } from '../command.ts';
import { UsageError } from '../errors.ts';
import { humanTime, table } from '../format.ts';
import type { Json } from '../http.ts';
import { findByNameOrId } from './users.ts';

const SITES = '/api/site';

const findSite = (ctx: Ctx) => findByNameOrId(ctx.api(), SITES, 'sites', 'site', ctx.args[0]!);

const YES_NO = { yes: true, no: false } as const;

/** A worker that shares its machine with an earlier one (docs/sites.md): with which, and from what busy share it holds back. */
function sharing(w: Json): string {
  if (w.sharesMachineWith === null || w.sharesMachineWith === undefined) return '';
  return w.sharedCpu === 100 ? `with ${w.sharesMachineWith}, as if alone` : `with ${w.sharesMachineWith}, takes tasks under ${w.sharedCpu} % busy`;
}

export const siteList: Command = {
  words: ['site', 'list'],
  synopsis: '',
  summary: 'list the sites (places servers and workers belong to)',
  async run(ctx) {
    const sites = await ctx.api().list(SITES, 'sites');
    if (ctx.json) return ctx.printJson(sites);
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'default', 'any worker', 'description'],
      sites.map((s: Json) => [s.id, s.name, s.defaultSite ? 'yes' : 'no', s.allowAnyWorker ? 'yes' : 'no', s.description]),
    ));
  },
};

export const siteCreate: Command = {
  words: ['site', 'create'],
  synopsis: 'NAME [--description D]',
  summary: 'create a site',
  help: '  --description D   what or where the site is',
  args: ['NAME'],
  options: { description: { type: 'string' } },
  async run(ctx) {
    const name = ctx.args[0]!;
    if (!name.trim()) throw new UsageError('the site name is empty', ctx.usage);
    const description = str(ctx, 'description');
    const made = await ctx.api().post(SITES, { name, defaultSite: false, ...(description !== undefined ? { description } : {}) });
    if (ctx.json) return ctx.printJson(made);
    ctx.print(`Created site ${made.name} (id ${made.id}). Start a worker there with: census worker --site ${JSON.stringify(made.name)} …`);
  },
};

export const siteUpdate: Command = {
  words: ['site', 'update'],
  synopsis: 'NAME|ID [--name N] [--description D] [--allow-any-worker yes|no]',
  summary: 'rename a site, change its description, or let any worker take its tasks',
  help: `  --name N                 a new name
  --description D          a new description
  --allow-any-worker yes   while the site has no live worker, any worker may take its tasks
                           (no: they wait for a worker of the site)`,
  args: ['NAME|ID'],
  options: { name: { type: 'string' }, description: { type: 'string' }, 'allow-any-worker': { type: 'string' } },
  async run(ctx) {
    const name = str(ctx, 'name');
    const description = str(ctx, 'description');
    const any = str(ctx, 'allow-any-worker')?.toLowerCase();
    if (any !== undefined && !(any in YES_NO)) throw new UsageError('--allow-any-worker must be yes or no', ctx.usage);
    if (name !== undefined && !name.trim()) throw new UsageError('--name is empty', ctx.usage);
    const body = {
      ...(name !== undefined ? { name } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(any !== undefined ? { allowAnyWorker: YES_NO[any as keyof typeof YES_NO] } : {}),
    };
    if (!Object.keys(body).length) throw new UsageError('nothing to change: give --name, --description or --allow-any-worker', ctx.usage);
    const site = await findSite(ctx);
    const updated = (await ctx.api().request('PUT', `${SITES}/${site.id}`, { body })).json;
    if (ctx.json) return ctx.printJson(updated);
    ctx.print(`Updated site ${updated.name} (id ${updated.id}).`);
  },
};

export const siteDelete: Command = {
  words: ['site', 'delete'],
  synopsis: 'NAME|ID',
  summary: 'delete a site (refused for Primary, and while servers or live workers belong to it)',
  help: '  --json        the deleted site as the API gave it just before',
  args: ['NAME|ID'],
  async run(ctx) {
    const site = await findSite(ctx);
    await ctx.api().delete(`${SITES}/${site.id}`);
    if (ctx.json) return ctx.printJson(site);
    ctx.print(`Deleted site ${site.name} (id ${site.id}).`);
  },
};

export const workerList: Command = {
  words: ['worker', 'list'],
  synopsis: '',
  summary: 'list the processes that run tasks (workers and servers), their site and state',
  help: '  (census worker without "list" starts a worker: census worker --help)',
  async run(ctx) {
    const workers = await ctx.api().list('/api/vadp', 'vadps');
    if (ctx.json) return ctx.printJson(workers);
    if (!workers.length) return ctx.print('No workers have registered.');
    ctx.print(table(
      [{ title: 'id', align: 'right' }, 'name', 'role', 'address', 'site', 'state', 'version', 'last seen', 'shares machine'],
      workers.map((w: Json) => [w.id, w.displayName, w.role, w.ipAddr, w.siteName, w.state, w.version, humanTime(w.lastSeen), sharing(w)]),
    ));
  },
};
