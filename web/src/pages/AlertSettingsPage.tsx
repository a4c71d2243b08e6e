/**
 * System Configuration › Alert settings (GET/PUT /api/census/alert/settings): when a session
 * counts as stalled, after how many failed inventories a server is failing, how late a scheduled
 * run may start before it counts as missed, and which inventory changes raise alerts. Shown to
 * those who may change them (`alert.edit`).
 */
import { useState } from 'react';
import { get, put } from '../api/client';
import type { AlertSettings } from '../api/types';
import { Loaded } from '../components/Feedback';
import { Checkbox, FormCard, TextField, useSubmit } from '../components/Form';
import { PageHeader, Section } from '../components/Section';
import { useAction } from '../lib/useAction';
import { usePolled } from '../lib/usePolled';
import { useTitle } from '../lib/useTitle';

const SETTINGS_PATH = '/api/census/alert/settings';
const MINUTE = 60_000;

export function AlertSettingsPage() {
  useTitle('Alert settings');
  const settings = usePolled((signal) => get<AlertSettings>(SETTINGS_PATH, signal), 'alert-settings');
  const action = useAction();
  return (
    <>
      <PageHeader title="Alert settings" kicker="System Configuration">
        When Census raises alerts. Failed sessions, missed schedules and undeliverable notifications always raise one.
      </PageHeader>
      <Section title="Alert settings" id="alert-settings">
        {action.notices}
        <Loaded state={settings} what="the alert settings">
          {(s) => (
            <SettingsForm
              key={JSON.stringify(s)}
              settings={s}
              onSaved={(next) => {
                action.say('Saved the alert settings.');
                settings.set(next);
              }}
            />
          )}
        </Loaded>
      </Section>
    </>
  );
}

function SettingsForm({ settings, onSaved }: { settings: AlertSettings; onSaved: (s: AlertSettings) => void }) {
  const initial = { stalled: String(settings.stalledAfterMs / MINUTE), failing: String(settings.failingRuns), missed: String(settings.missedGraceMs / MINUTE), watch: settings.watch };
  const [f, setF] = useState(initial);
  const form = useSubmit();
  const stalled = Number(f.stalled);
  const failing = Number(f.failing);
  const missed = Number(f.missed);
  // The server's bounds (docs/alerts.md); it checks them again and its refusal is shown as it words it.
  const problem = !(stalled >= 1 && stalled <= 7 * 24 * 60)
    ? 'The stall time is from 1 minute to 7 days (10080 minutes).'
    : !Number.isInteger(failing) || failing < 1 || failing > 100
      ? 'Failing runs is a whole number from 1 to 100.'
      : !(missed >= 1 && missed <= 24 * 60)
        ? 'The grace time of a scheduled run is from 1 minute to 24 hours (1440 minutes).'
        : null;
  const submit = () =>
    form.submit(async () => {
      const body: AlertSettings = { stalledAfterMs: Math.round(stalled * MINUTE), failingRuns: failing, missedGraceMs: Math.round(missed * MINUTE), watch: f.watch };
      onSaved((await put<AlertSettings | undefined>(SETTINGS_PATH, body)) ?? body);
    }, problem);
  const watch = (k: keyof AlertSettings['watch']) => (on: boolean) => setF((o) => ({ ...o, watch: { ...o.watch, [k]: on } }));
  return (
    <FormCard id="alert-settings-form" title="When to raise alerts" error={form.error} busy={form.busy} submitLabel="Save settings" onSubmit={() => void submit()} onCancel={() => setF(initial)}>
      <div className="form-grid">
        <TextField id="alert-stalled" label="Stall time (minutes)" type="number" min={1} step="any" value={f.stalled} onChange={(v) => setF((o) => ({ ...o, stalled: v }))} hint="A running session with no progress for this long raises Session stalled." />
        <TextField id="alert-failing" label="Failing runs" type="number" min={1} step={1} value={f.failing} onChange={(v) => setF((o) => ({ ...o, failing: v }))} hint="A server whose inventory failed this many times in a row raises Server failing inventories." />
        <TextField id="alert-missed" label="Missed-run grace (minutes)" type="number" min={1} step="any" value={f.missed} onChange={(v) => setF((o) => ({ ...o, missed: v }))} hint="A scheduled run not started this long after its time counts as missed." />
      </div>
      <fieldset className="radio-group">
        <legend>Watched inventory changes</legend>
        <Checkbox checked={f.watch.databaseRemoved} onChange={watch('databaseRemoved')}>
          A database disappeared
        </Checkbox>
        <Checkbox checked={f.watch.versionChanged} onChange={watch('versionChanged')}>
          A server&apos;s version changed
        </Checkbox>
        <Checkbox checked={f.watch.findings} onChange={watch('findings')}>
          A readiness finding appeared
        </Checkbox>
      </fieldset>
    </FormCard>
  );
}
