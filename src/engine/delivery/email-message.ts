/**
 * What an e-mail says (docs/email.md): a subject (the notification's one-line summary), a
 * plain-text part and an HTML part that name the job, the session, its result and the servers
 * that failed, or the alert (kind, message, objects), with a link to the web UI. The HTML is
 * the text's content in a table: every value in it is escaped, none is trusted.
 */
import type { AlertData, SessionEndedData } from '../../core/notifications.ts';
import { summarise, type Summarisable } from './summary.ts';

export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

/** The UI's pages a message links to (web/src/lib/pages.ts and web/src/App.tsx). */
export const sessionPage = (base: string, sessionId: number) => `${base}/jobs/sessions/${sessionId}`;
export const alertsPage = (base: string) => `${base}/alerts`;

const MAX_SUBJECT = 200;
const DEFAULT_PREFIX = '[Census]';

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const when = (ms: number | null) => (ms === null ? '–' : `${new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC`);

/** One labelled value of the message; `href` makes it a link in HTML. */
interface Row {
  label: string;
  value: string;
  href?: string;
}

interface Body {
  heading: string;
  rows: Row[];
  /** A list under the rows (the failed servers, the alert's objects). */
  listTitle?: string;
  list?: string[];
  link: { text: string; href: string } | null;
}

function sessionEnded(d: SessionEndedData, base: string | null): Body {
  const s = d.session;
  const url = base ? sessionPage(base, s.id) : null;
  const t = d.tasks;
  return {
    heading: `Job "${s.jobName}" ended ${s.status}`,
    rows: [
      { label: 'Job', value: `${s.jobName} (id ${s.jobId})` },
      { label: 'Session', value: String(s.id), ...(url ? { href: url } : {}) },
      { label: 'Result', value: s.status },
      { label: 'Started', value: when(s.start) },
      { label: 'Ended', value: when(s.end) },
      { label: 'Trigger', value: s.trigger },
      { label: 'Tasks', value: `${t.total} in all: ${t.completed} completed, ${t.failed} failed, ${t.cancelled} cancelled` },
    ],
    listTitle: d.failed.length ? 'Servers that did not complete' : 'Servers',
    list: d.failed.length ? d.failed.map((f) => (f.reason ? `${f.name}: ${f.reason}` : f.name)) : ['every server completed'],
    link: url ? { text: 'Open the session in Census', href: url } : null,
  };
}

function alert(type: string, d: AlertData, base: string | null): Body {
  const a = d.alert;
  const session = a.sessionId !== null && base ? sessionPage(base, a.sessionId) : null;
  const rows: Row[] = [
    { label: 'Alert', value: type === 'alert.cleared' ? 'cleared' : 'raised' },
    { label: 'Kind', value: a.kind },
    { label: 'Severity', value: a.severity },
    { label: 'Message', value: a.message },
    { label: 'First seen', value: when(a.firstAt) },
    { label: 'Last seen', value: when(a.lastAt) },
  ];
  if (a.clearedAt !== null) rows.push({ label: 'Cleared', value: when(a.clearedAt) });
  if (a.jobId !== null) rows.push({ label: 'Job', value: String(a.jobId) });
  if (a.sessionId !== null) rows.push({ label: 'Session', value: String(a.sessionId), ...(session ? { href: session } : {}) });
  const link = session ? { text: 'Open the session in Census', href: session } : base ? { text: 'Open the alerts in Census', href: alertsPage(base) } : null;
  return {
    heading: `Alert ${type === 'alert.cleared' ? 'cleared' : 'raised'}: ${a.message}`,
    rows,
    listTitle: 'Concerns',
    list: a.objects.length ? a.objects.map((o) => `${o.type} ${o.name} (id ${o.id})`) : ['Census'],
    link,
  };
}

function testMessage(base: string | null): Body {
  return {
    heading: 'Test message from Census',
    rows: [{ label: 'Sent', value: 'by the SMTP server test (POST /api/smtp/{id}?action=test)' }],
    link: base ? { text: 'Open Census', href: base } : null,
  };
}

function bodyOf(n: Summarisable, base: string | null): Body {
  if (n.type === 'session.ended') return sessionEnded(n.data as SessionEndedData, base);
  if (n.type === 'alert.raised' || n.type === 'alert.cleared') return alert(n.type, n.data as AlertData, base);
  if (n.type === 'smtp.test') return testMessage(base);
  return { heading: summarise(n), rows: [], link: base ? { text: 'Open Census', href: base } : null };
}

function subjectOf(n: Summarisable, prefix: string | null): string {
  const line = n.type === 'smtp.test' ? 'Test message: Census can send e-mail through this server' : summarise(n);
  const full = `${prefix ?? DEFAULT_PREFIX} ${line}`.replace(/[\r\n]+/g, ' ').trim();
  return full.length > MAX_SUBJECT ? `${full.slice(0, MAX_SUBJECT - 1)}…` : full;
}

function textOf(b: Body, footer: string): string {
  const width = Math.max(...b.rows.map((r) => r.label.length), 0);
  const lines = [b.heading, ''];
  for (const r of b.rows) lines.push(`${`${r.label}:`.padEnd(width + 2)}${r.value}`);
  if (b.list) lines.push('', `${b.listTitle}:`, ...b.list.map((l) => `  - ${l}`));
  lines.push('', b.link ? `${b.link.text}: ${b.link.href}` : 'No link: set the SMTP server\'s uiUrl (or --public-url) to get one.');
  lines.push('', '-- ', footer);
  return `${lines.join('\n')}\n`;
}

function htmlOf(b: Body, footer: string): string {
  const cell = (r: Row) => (r.href ? `<a href="${escape(r.href)}">${escape(r.value)}</a>` : escape(r.value));
  const rows = b.rows.map((r) => `<tr><th align="left" style="padding:2px 12px 2px 0">${escape(r.label)}</th><td>${cell(r)}</td></tr>`).join('\n');
  const list = b.list ? `<p><b>${escape(b.listTitle ?? '')}</b></p>\n<ul>\n${b.list.map((l) => `<li>${escape(l)}</li>`).join('\n')}\n</ul>` : '';
  const link = b.link ? `<p><a href="${escape(b.link.href)}">${escape(b.link.text)}</a></p>` : '';
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"></head><body style="font-family:sans-serif">',
    `<h2>${escape(b.heading)}</h2>`,
    rows ? `<table>\n${rows}\n</table>` : '',
    list,
    link,
    `<p style="color:#666;font-size:small">${escape(footer)}</p>`,
    '</body></html>',
  ].filter(Boolean).join('\n');
}

/**
 * The message for a notification (or the SMTP test, type `smtp.test`). `base`: the web UI's
 * address without a trailing slash, or null when Census does not know it (no link then).
 */
export function composeMail(n: Summarisable, base: string | null, prefix: string | null, eventId: string | null): MailContent {
  const b = bodyOf(n, base);
  const footer = `Sent by Census${eventId ? ` (event ${eventId})` : ''}. Who receives what is set under /api/census/recipient.`;
  return { subject: subjectOf(n, prefix), text: textOf(b, footer), html: htmlOf(b, footer) };
}
