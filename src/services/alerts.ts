/**
 * Alerts (docs/alerts.md): read them, acknowledge them, read and change the alert settings. The
 * engine raises and clears them (engine/alerts.ts); here is only what a person does with them.
 * Acknowledging says "seen": the alert stays open (it still clears itself when its condition goes
 * away), it just no longer counts as ACTIVE.
 */
import type { Actor } from '../core/actor.ts';
import type { Alert, AlertSettings } from '../core/alerts.ts';
import { conflict, forbidden, invalid, notFound } from '../core/errors.ts';
import type { Permission } from '../core/permissions.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import { alertSettings, mergeAlertSettings } from '../engine/alerts.ts';
import type { AuditSpecs } from './audit.ts';
import type { ServiceContext } from './context.ts';

export type { Alert, AlertSettings } from '../core/alerts.ts';

/** The bounds of each setting: what the watchdog and the rules can honour. */
export const ALERT_SETTING_LIMITS = {
  /** A minute to a week: the watchdog looks every 30 s, so less than a minute means little. */
  stalledAfterMs: { min: 60_000, max: 7 * 24 * 3_600_000 },
  failingRuns: { min: 1, max: 100 },
  /** The scheduler never takes less than a minute (services/scheduler.ts). */
  missedGraceMs: { min: 60_000, max: 24 * 3_600_000 },
} as const;

/** A change of the settings: any of them; `watch` may name only some of its switches. */
export type AlertSettingsChanges = Partial<Omit<AlertSettings, 'watch'>> & { watch?: Partial<AlertSettings['watch']> };

function need(actor: Actor, p: Permission): void {
  if (!actor.access.can(p)) throw forbidden(`This needs the permission ${p}, which the user's roles do not give.`, 'permission.missing');
}

/** Checks a change field by field; the message names the field, as the API's validation does. */
function checkChanges(c: AlertSettingsChanges): void {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) throw invalid('The alert settings are a JSON object.', 'alert.settings');
  for (const [field, { min, max }] of Object.entries(ALERT_SETTING_LIMITS)) {
    const v = (c as Record<string, unknown>)[field];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw invalid(`"${field}" must be a whole number from ${min} to ${max}.`, 'alert.settings');
    }
  }
  if (c.watch === undefined) return;
  if (c.watch === null || typeof c.watch !== 'object' || Array.isArray(c.watch)) throw invalid('"watch" must be an object of true/false switches.', 'alert.settings');
  for (const [k, v] of Object.entries(c.watch)) {
    if (!['databaseRemoved', 'versionChanged', 'findings'].includes(k)) throw invalid(`"watch.${k}" is not a setting; use databaseRemoved, versionChanged or findings.`, 'alert.settings');
    if (typeof v !== 'boolean') throw invalid(`"watch.${k}" must be true or false.`, 'alert.settings');
  }
}

export function alertService(ctx: Pick<ServiceContext, 'store' | 'clock'>) {
  const { store, clock } = ctx;

  async function get(actor: Actor, id: number): Promise<Alert> {
    need(actor, 'alert.view');
    const a = await store.alerts.get(id);
    if (!a) throw notFound('Alert', id);
    return a;
  }

  return {
    get,

    list(actor: Actor, q: ListQuery): Promise<ListResult<Alert>> {
      need(actor, 'alert.view');
      return store.alerts.list(q);
    },

    /**
     * ACTIVE → ACKNOWLEDGED, by the caller. Acknowledging an acknowledged alert again changes
     * nothing (who acknowledged it first stays); a cleared one is over and is refused (409).
     */
    async acknowledge(actor: Actor, id: number): Promise<Alert> {
      need(actor, 'alert.acknowledge');
      const a = await get(actor, id);
      if (a.status === 'ACKNOWLEDGED') return a;
      if (a.status === 'CLEARED') throw conflict(`Alert ${id} cleared itself already; there is nothing to acknowledge.`, 'alert.cleared');
      const done = await store.transaction((r) => r.alerts.acknowledge(id, actor.name, clock.now()));
      // Cleared (or acknowledged by someone else) between the read and the write: answer how it is now.
      return done ?? (await get(actor, id));
    },

    async settings(actor: Actor): Promise<AlertSettings> {
      need(actor, 'alert.view');
      return alertSettings(store);
    },

    /** Changes what is given; the rest stays. Returns the settings as they are now. */
    async setSettings(actor: Actor, changes: AlertSettingsChanges): Promise<AlertSettings> {
      need(actor, 'alert.edit');
      checkChanges(changes);
      return store.transaction(async (r) => {
        await r.lock(4242131); // two changes at once: each sees the other's, none is lost
        const current = await alertSettings(r);
        const next = mergeAlertSettings({ ...current, ...changes, watch: { ...current.watch, ...(changes.watch ?? {}) } });
        const known: AlertSettings = {
          stalledAfterMs: next.stalledAfterMs, failingRuns: next.failingRuns, missedGraceMs: next.missedGraceMs,
          watch: { databaseRemoved: next.watch.databaseRemoved, versionChanged: next.watch.versionChanged, findings: next.watch.findings },
        };
        await r.settings.put('alerts', known);
        return known;
      });
    },
  };
}

export type AlertService = ReturnType<typeof alertService>;

/** What the audit log records of alerts (createServices applies it with withAudit). */
export function alertAuditSpecs(ctx: Pick<ServiceContext, 'store'>): AuditSpecs<AlertService> {
  const kindOf = async ([id]: [number, ...unknown[]]) => (await ctx.store.alerts.get(id))?.kind;
  return {
    acknowledge: { action: 'alert.acknowledge', targetType: 'alert', nameBefore: kindOf },
    setSettings: { action: 'alert.settings', targetType: 'settings', target: () => ({ name: 'alerts' }), detail: ([changes]) => ({ fields: Object.keys(changes ?? {}).sort() }) },
  };
}
