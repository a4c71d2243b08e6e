/**
 * Sites (docs/sites.md): list, create, change, delete. Site 1000 "Primary" always exists and
 * stays the default; a site that servers or live workers belong to cannot be deleted; names are
 * unique regardless of case. Turning `allowAnyWorker` on or off routes the site's waiting tasks
 * again at once (engine.rerouteSite).
 */
import type { Actor } from '../core/actor.ts';
import { conflict, invalid, notAllowed, notFound } from '../core/errors.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import { DEFAULT_SITE_ID, type Site } from '../core/sites.ts';
import type { Repositories } from '../store/index.ts';
import type { AuditSpecs } from './audit.ts';
import type { ServiceContext } from './context.ts';

export interface SiteInput {
  name: string;
  description?: string;
  defaultSite?: boolean;
  allowAnyWorker?: boolean;
}

export type SiteChanges = Partial<SiteInput>;

function checkName(name: string | undefined): string {
  const n = (name ?? '').trim();
  if (!n || n.length > 128) throw invalid('A site needs a "name" of 1 to 128 characters.', 'site.name');
  return n;
}

function checkDescription(d: string | undefined): string | undefined {
  if (d !== undefined && d.length > 2000) throw invalid('"description" is longer than 2000 characters.', 'site.description');
  return d;
}

async function unique(r: Repositories, name: string, except?: number): Promise<void> {
  const same = await r.sites.byName(name);
  if (same && same.id !== except) throw conflict(`A site named "${same.name}" exists already (id ${same.id}).`, 'site.duplicate');
}

export function siteService(ctx: ServiceContext) {
  const { store, clock, engine } = ctx;

  async function get(_actor: Actor, id: number): Promise<Site> {
    const s = await store.sites.get(id);
    if (!s) throw notFound('Site', id);
    return s;
  }

  return {
    get,

    list(_actor: Actor, q: ListQuery): Promise<ListResult<Site>> {
      return store.sites.list(q);
    },

    /** Names of every site by id (for answers that name a site). */
    async names(_actor: Actor): Promise<Map<number, string>> {
      return new Map((await store.sites.all()).map((s) => [s.id, s.name]));
    },

    async create(_actor: Actor, input: SiteInput): Promise<Site> {
      const name = checkName(input.name);
      if (input.defaultSite) throw notAllowed(`Site ${DEFAULT_SITE_ID} ("Primary") is the default site; a new site cannot be.`, 'site.default');
      return store.transaction(async (r) => {
        await r.lock(4242009);
        await unique(r, name);
        return r.sites.create({
          name, description: checkDescription(input.description) ?? '', defaultSite: false, allowAnyWorker: input.allowAnyWorker ?? false, createdAt: clock.now(),
        });
      });
    },

    async update(actor: Actor, id: number, changes: SiteChanges): Promise<Site> {
      const current = await get(actor, id);
      if (changes.defaultSite !== undefined && changes.defaultSite !== current.defaultSite) {
        throw notAllowed(`Site ${DEFAULT_SITE_ID} ("Primary") is always the default site; that cannot change.`, 'site.default');
      }
      const name = changes.name !== undefined ? checkName(changes.name) : undefined;
      const description = checkDescription(changes.description);
      const updated = await store.transaction(async (r) => {
        await r.lock(4242009);
        if (name !== undefined) await unique(r, name, id);
        const s = await r.sites.update(id, {
          ...(name !== undefined ? { name } : {}),
          ...(description !== undefined ? { description } : {}),
          ...(changes.allowAnyWorker !== undefined ? { allowAnyWorker: changes.allowAnyWorker } : {}),
        });
        if (!s) throw notFound('Site', id);
        return s;
      });
      // Waiting tasks follow the new rule now, not at the sweeper's next pass.
      if (updated.allowAnyWorker !== current.allowAnyWorker) await engine.rerouteSite(id);
      return updated;
    },

    /** Refused for the default site, and while servers or live workers belong to the site. */
    async delete(actor: Actor, id: number): Promise<void> {
      const site = await get(actor, id);
      if (site.defaultSite) throw notAllowed(`Site ${site.id} ("${site.name}") is the default site and cannot be deleted.`, 'site.default');
      await store.transaction(async (r) => {
        await r.lock(4242009);
        const servers = await r.sites.servers(id);
        if (servers.total) {
          const more = servers.total > servers.names.length ? ` and ${servers.total - servers.names.length} more` : '';
          throw conflict(`Site "${site.name}" has ${servers.total} server(s): ${servers.names.join(', ')}${more}; move them to another site or unregister them first.`, 'site.in-use');
        }
        const live = await r.workers.live(id, Date.now());
        if (live.length) {
          throw conflict(`Site "${site.name}" has ${live.length} running worker(s): ${live.map((w) => `${w.name} (pid ${w.pid})`).join(', ')}; stop them first.`, 'site.in-use');
        }
        await r.workers.forgetSite(id);
        if (!(await r.sites.delete(id))) throw notFound('Site', id);
      });
    },
  };
}

export type SiteService = ReturnType<typeof siteService>;

/** How the audit log records the site use cases (createServices applies them). */
export function siteAuditSpecs(ctx: Pick<ServiceContext, 'store'>): AuditSpecs<SiteService> {
  const siteName = async ([id]: [number, ...unknown[]]) => (await ctx.store.sites.get(id))?.name;
  return {
    create: { action: 'site.create', targetType: 'site', target: ([input], r) => ({ id: r?.id ?? null, name: r?.name ?? input.name }) },
    update: { action: 'site.update', targetType: 'site', nameBefore: siteName, detail: ([, changes]) => ({ fields: Object.keys(changes), ...(changes.allowAnyWorker !== undefined ? { allowAnyWorker: changes.allowAnyWorker } : {}) }) },
    delete: { action: 'site.delete', targetType: 'site', nameBefore: siteName },
  };
}
