/**
 * Reading the inventory: instances of an application type, their databases (or file systems) and
 * each object's change history. A child is only found through its instance, and an instance only
 * under its own application type, so a path that mixes them names nothing.
 */
import type { Actor } from '../core/actor.ts';
import { notFound } from '../core/errors.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { Database, Instance, InventoryChange } from '../core/types.ts';
import type { ServiceContext } from './context.ts';

export function inventoryService(ctx: ServiceContext) {
  const { store } = ctx;

  return {
    listInstances(actor: Actor, q: ListQuery, applicationType: string): Promise<ListResult<Instance>> {
      return store.inventory.listInstances(q, applicationType, actor.access.scope('application.view'));
    },

    /** One instance, if it is of `applicationType` (and on a server the caller may see the inventory of). */
    async instance(actor: Actor, applicationType: string, id: number): Promise<Instance> {
      const i = await store.inventory.instance(id);
      if (!i || i.applicationType !== applicationType || !actor.access.reaches('application.view', i.appserverId)) throw notFound('Instance', id);
      return i;
    },

    /** The databases (or file systems) of an instance this service returned. */
    listDatabases(_actor: Actor, instance: Instance, q: ListQuery): Promise<ListResult<Database>> {
      return store.inventory.listDatabases(q, instance.id);
    },

    /** One database (or file system), if it belongs to `instance` (one this service returned). */
    async database(_actor: Actor, instance: Instance, id: number): Promise<Database> {
      const d = await store.inventory.database(id);
      if (!d || d.instanceId !== instance.id) throw notFound('Database', id);
      return d;
    },

    instanceHistory(_actor: Actor, instance: Instance, q: ListQuery): Promise<ListResult<InventoryChange>> {
      return store.inventory.listChanges(q, { objectType: 'instance', objectId: instance.id });
    },

    databaseHistory(_actor: Actor, database: Database, q: ListQuery): Promise<ListResult<InventoryChange>> {
      return store.inventory.listChanges(q, { objectType: database.objectType, objectId: database.id });
    },
  };
}

export type InventoryService = ReturnType<typeof inventoryService>;
