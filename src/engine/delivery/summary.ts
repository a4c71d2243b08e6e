/**
 * One readable line per notification, for receivers that show text rather than read JSON: the
 * Slack and Teams bodies of a webhook, and an e-mail's subject. Written once here so every
 * channel says the same thing the same way.
 */
import type { AlertData, InventoryChangedData, ServerData, SessionEndedData } from '../../core/notifications.ts';

/** What summarise reads: a stored notification, or the test event of `?action=test`. */
export interface Summarisable {
  type: string;
  data: unknown;
}

const MAX_NAMES = 5;

/** "a, b, c and 2 more" */
function names(list: string[]): string {
  if (list.length <= MAX_NAMES) return list.join(', ');
  return `${list.slice(0, MAX_NAMES).join(', ')} and ${list.length - MAX_NAMES} more`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One line saying what happened, e.g. `Job "Application Server Inventory" session 1767225600000 ended FAILED: 1 of 3 tasks completed; failed: db1 (connection refused)`. */
export function summarise(n: Summarisable): string {
  switch (n.type) {
    case 'session.ended': {
      const d = n.data as SessionEndedData;
      const s = d.session;
      const line = `Job "${s.jobName}" session ${s.id} ended ${s.status}: ${d.tasks.completed} of ${plural(d.tasks.total, 'task')} completed`;
      const failed = d.failed.map((f) => (f.reason ? `${f.name} (${f.reason})` : f.name));
      return failed.length ? `${line}; failed: ${names(failed)}` : line;
    }
    case 'alert.raised':
    case 'alert.cleared': {
      const a = (n.data as AlertData).alert;
      return n.type === 'alert.raised' ? `Alert raised (${a.severity}, ${a.kind}): ${a.message}` : `Alert cleared (${a.kind}): ${a.message}`;
    }
    case 'inventory.changed': {
      const d = n.data as InventoryChangedData;
      const what = d.changes.map((c) => `${c.objectType} ${c.objectName} ${c.change}${c.field ? ` (${c.field}: ${c.oldValue ?? '–'} → ${c.newValue ?? '–'})` : ''}`);
      return `Inventory of ${d.appserver.name} (${d.appserver.type}) changed: ${plural(d.changes.length, 'change')}${what.length ? `: ${names(what)}` : ''}`;
    }
    case 'server.registered':
    case 'server.removed': {
      const a = (n.data as ServerData).appserver;
      return `Server ${a.name} (${a.type} at ${a.host}) ${n.type === 'server.registered' ? 'registered' : 'removed'}`;
    }
    case 'webhook.test':
      return 'Test event from Census: this endpoint receives its notifications.';
    default:
      return `Census event ${n.type}`;
  }
}

/** How bad it is, for a colour or an icon: failures and raised errors are bad, clears and completions good. */
export function tone(n: Summarisable): 'good' | 'warning' | 'bad' | 'neutral' {
  switch (n.type) {
    case 'session.ended': {
      const status = (n.data as SessionEndedData).session.status;
      return status === 'COMPLETED' ? 'good' : status === 'FAILED' ? 'bad' : 'warning';
    }
    case 'alert.raised':
      return (n.data as AlertData).alert.severity === 'ERROR' ? 'bad' : 'warning';
    case 'alert.cleared':
      return 'good';
    default:
      return 'neutral';
  }
}
