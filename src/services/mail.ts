/**
 * E-mail settings (docs/email.md): the one SMTP server Census sends through, and the mail
 * recipients (who gets which alerts and which jobs' ended sessions). The SMTP password is sealed
 * when it comes in (as identities' secrets) and never leaves: views say `passwordSet` instead.
 * The test message goes out at once, through the same code the e-mail channel uses.
 */
import { randomUUID } from 'node:crypto';
import type { Actor } from '../core/actor.ts';
import { ALERT_KINDS, type AlertKind } from '../core/alerts.ts';
import { conflict, invalid, notFound } from '../core/errors.ts';
import { ENDED_SESSION_STATUSES, type SessionStatus } from '../core/status.ts';
import { composeMail } from '../engine/delivery/email-message.ts';
import { mailMessageId, sendMail, uiBaseOf } from '../engine/delivery/email.ts';
import type { RecipientRow, SmtpRow, SmtpSecurity } from '../store/receivers.ts';
import type { AuditSpecs } from './audit.ts';
import type { ServiceContext } from './context.ts';

export const SMTP_SECURITIES: readonly SmtpSecurity[] = ['none', 'starttls', 'tls'];
/** The port a security mode usually has: submission with STARTTLS, submissions (implicit TLS), plain SMTP. */
const DEFAULT_PORTS: Record<SmtpSecurity, number> = { starttls: 587, tls: 465, none: 25 };
export const SMTP_DEFAULTS = { timeoutMs: 30_000, retryForMs: 24 * 3_600_000, tlsVerify: true };
const MAX_RETRY_FOR_MS = 30 * 24 * 3_600_000;

/** The SMTP server as a caller gives it (Census's names; the API maps SPP's). */
export interface SmtpInput {
  host: string;
  port?: number | null;
  security?: SmtpSecurity | null;
  username?: string | null;
  /** Write-only: sealed here. */
  password?: string | null;
  sender: string;
  uiUrl?: string | null;
  tlsVerify?: boolean | null;
  caCert?: string | null;
  timeoutMs?: number | null;
  subjectPrefix?: string | null;
  retryForMs?: number | null;
}
/** A change: what is left out stays; null removes an optional setting (the password among them). */
export type SmtpChanges = Partial<SmtpInput>;

/** The SMTP server as Census shows it: never the password. */
export type SmtpView = Omit<SmtpRow, 'password'> & { passwordSet: boolean };

export interface RecipientInput {
  address: string;
  alertKinds?: string[] | null;
  jobIds?: number[] | null;
  results?: string[] | null;
}
export type RecipientChanges = Partial<RecipientInput>;
/** A mail recipient as Census shows it. */
export type RecipientView = RecipientRow;

const viewOf = ({ password, ...rest }: SmtpRow): SmtpView => ({ ...rest, passwordSet: password !== null });

// A mailbox: no spaces, brackets, commas or line breaks (each would change what the SMTP
// envelope or a header says); a domain of labels.
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const MAILBOX = new RegExp(`^[^\\s@<>,;:"()\\[\\]\\\\]{1,64}@${LABEL}(?:\\.${LABEL})*$`);
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[?[0-9A-Fa-f:.]+\\]?)$`);

export function checkAddress(field: string, v: unknown): string {
  const s = typeof v === 'string' ? v.trim() : '';
  if (!s || s.length > 254 || !MAILBOX.test(s)) throw invalid(`"${field}" must be an e-mail address (name@example.com).`, 'mail.address');
  return s;
}

/** `census@example.com` or `Census <census@example.com>`. */
function checkSender(v: unknown): string {
  const s = typeof v === 'string' ? v.trim() : '';
  const m = /^([^<>\r\n"]*)<([^<>]+)>$/.exec(s);
  if (m) {
    checkAddress('sender', m[2]);
    return s;
  }
  return checkAddress('sender', s);
}

function checkUiUrl(v: string): string {
  let url: URL;
  try {
    url = new URL(v.trim());
  } catch {
    throw invalid('"uiUrl" must be the web UI\'s address, e.g. https://census.example.com.', 'smtp.ui-url');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
    throw invalid('"uiUrl" must be an http:// or https:// address without a user name, password, query or fragment.', 'smtp.ui-url');
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

const wholeIn = (field: string, v: number, min: number, max: number) => {
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(`"${field}" must be a whole number from ${min} to ${max}.`);
  return v;
};

const oneLine = (field: string, v: string, max: number) => {
  if (/[\r\n]/.test(v) || v.length > max) throw invalid(`"${field}" must be one line of at most ${max} characters.`);
  return v;
};

export function smtpService(ctx: ServiceContext) {
  const { store, clock, secrets } = ctx;

  async function current(id?: number): Promise<SmtpRow> {
    const row = await store.smtp.get();
    if (!row || (id !== undefined && row.id !== id)) throw notFound('SMTP server', id ?? 'any');
    return row;
  }

  /** The stored settings after `c` (a whole input for a new one), checked and with the password sealed. */
  function settle(base: Omit<SmtpRow, 'id' | 'createdAt' | 'updatedAt'> | undefined, c: SmtpChanges): Omit<SmtpRow, 'id' | 'createdAt' | 'updatedAt'> {
    const has = (k: keyof SmtpChanges) => c[k] !== undefined;
    const host = has('host') ? String(c.host ?? '').trim() : base?.host;
    if (!host || host.length > 253 || !HOST.test(host)) throw invalid('"host" must be the SMTP server\'s host name or address.', 'smtp.host');
    if (c.security !== undefined && c.security !== null && !SMTP_SECURITIES.includes(c.security)) {
      throw invalid(`"security" must be one of ${SMTP_SECURITIES.join(', ')}.`, 'smtp.security');
    }
    const port0 = has('port') && c.port !== null ? wholeIn('port', Number(c.port), 1, 65535) : base && !has('port') ? base.port : undefined;
    const security: SmtpSecurity = c.security ?? base?.security ?? (port0 === 465 ? 'tls' : port0 === 25 ? 'none' : 'starttls');
    const port = port0 ?? DEFAULT_PORTS[security];
    const username = has('username') ? (c.username ? oneLine('username', c.username, 255) : null) : base?.username ?? null;
    let password = base?.password ?? null;
    if (has('password')) password = c.password ? secrets.seal(oneLine('password', c.password, 1024)) : null;
    if (!username) password = null; // no login, nothing to keep
    if (username && !password) throw invalid('A login needs its password: give "password" with "username".', 'smtp.password');
    const sender = has('sender') ? checkSender(c.sender) : base?.sender;
    if (!sender) throw invalid('"sender" is required: the address messages come from.', 'smtp.sender');
    const caCert = has('caCert') ? (c.caCert || null) : base?.caCert ?? null;
    if (caCert && !/-----BEGIN CERTIFICATE-----/.test(caCert)) throw invalid('"caCert" must be PEM certificate(s) (-----BEGIN CERTIFICATE-----).', 'smtp.ca-cert');
    return {
      host, port, security, username, password, sender,
      uiUrl: has('uiUrl') ? (c.uiUrl ? checkUiUrl(c.uiUrl) : null) : base?.uiUrl ?? null,
      tlsVerify: has('tlsVerify') && c.tlsVerify !== null ? Boolean(c.tlsVerify) : base?.tlsVerify ?? SMTP_DEFAULTS.tlsVerify,
      caCert,
      timeoutMs: has('timeoutMs') && c.timeoutMs !== null ? wholeIn('timeoutMs', Number(c.timeoutMs), 100, 600_000) : has('timeoutMs') ? SMTP_DEFAULTS.timeoutMs : base?.timeoutMs ?? SMTP_DEFAULTS.timeoutMs,
      subjectPrefix: has('subjectPrefix') ? (c.subjectPrefix ? oneLine('subjectPrefix', c.subjectPrefix, 100) : null) : base?.subjectPrefix ?? null,
      retryForMs: has('retryForMs') && c.retryForMs !== null ? wholeIn('retryForMs', Number(c.retryForMs), 0, MAX_RETRY_FOR_MS) : has('retryForMs') ? SMTP_DEFAULTS.retryForMs : base?.retryForMs ?? SMTP_DEFAULTS.retryForMs,
    };
  }

  return {
    /** The SMTP server, if set: a list of at most one (SPP's collection). */
    async list(_actor: Actor): Promise<SmtpView[]> {
      const row = await store.smtp.get();
      return row ? [viewOf(row)] : [];
    },
    async get(_actor: Actor, id: number): Promise<SmtpView> {
      return viewOf(await current(id));
    },
    /** Sets the SMTP server; refused (409) while one is set: change that one instead. */
    async create(_actor: Actor, input: SmtpInput): Promise<SmtpView> {
      const draft = settle(undefined, input);
      return store.transaction(async (r) => {
        const row = await r.smtp.get();
        if (row) throw conflict(`An SMTP server is set already (id ${row.id}); change it with PUT /api/smtp/${row.id}.`, 'smtp.exists');
        return viewOf(await r.smtp.put(draft, clock.now()));
      });
    },
    async update(_actor: Actor, id: number, changes: SmtpChanges): Promise<SmtpView> {
      const row = await current(id);
      const { id: _id, createdAt: _c, updatedAt: _u, ...base } = row;
      // A new host keeps no password meant for another server unless it is given again.
      const moved = changes.host !== undefined && changes.host !== null && String(changes.host).trim() !== row.host;
      if (moved && row.password && changes.password === undefined && (changes.username ?? row.username)) {
        throw invalid('A new "host" needs "password" again: the stored one was given for another server.', 'smtp.password');
      }
      return viewOf(await store.smtp.put(settle(base, changes), clock.now()));
    },
    /** Removes the SMTP server: no e-mail is sent from then on (recipients stay). */
    async delete(_actor: Actor, id: number): Promise<void> {
      await current(id);
      await store.smtp.delete();
    },
    /**
     * Sends a test message to `to` now and says how it went. `uiBase`: the address the caller
     * reached Census by, for the message's link when the server sets no uiUrl.
     */
    async test(_actor: Actor, id: number, to: string, uiBase?: string) {
      const row = await current(id);
      const address = checkAddress('to', to);
      const eventId = randomUUID();
      const content = composeMail({ type: 'smtp.test', data: null }, uiBaseOf(row, () => uiBase), row.subjectPrefix, eventId);
      const out = await sendMail(row, secrets, {
        ...content, to: address, messageId: mailMessageId(eventId, 'test'),
        headers: { 'X-Census-Event-Id': eventId, 'X-Census-Event-Type': 'smtp.test', 'Auto-Submitted': 'auto-generated' },
      });
      return { ok: out.ok, statusCode: out.statusCode, response: out.response, error: out.error, durationMs: out.durationMs };
    },
  };
}

export type SmtpService = ReturnType<typeof smtpService>;

export function recipientService(ctx: ServiceContext) {
  const { store, clock } = ctx;

  async function checked(c: RecipientInput): Promise<Omit<RecipientRow, 'id' | 'createdAt'>> {
    const address = checkAddress('address', c.address);
    const alertKinds = [...new Set(c.alertKinds ?? [])];
    for (const k of alertKinds) {
      if (!(ALERT_KINDS as readonly string[]).includes(k)) throw invalid(`"alertKinds": unknown alert kind ${JSON.stringify(k)}; the kinds are ${ALERT_KINDS.join(', ')}.`, 'mail.alert-kind');
    }
    const jobIds = [...new Set((c.jobIds ?? []).map(Number))];
    for (const id of jobIds) {
      if (!Number.isInteger(id) || !(await store.jobs.get(id))) throw invalid(`"jobIds": there is no job ${id}.`, 'mail.job');
    }
    const results = [...new Set((c.results ?? []).map((s) => String(s).toUpperCase()))];
    for (const s of results) {
      if (!(ENDED_SESSION_STATUSES as readonly string[]).includes(s)) throw invalid(`"results": ${JSON.stringify(s)} is not a session result; use ${ENDED_SESSION_STATUSES.join(', ')}.`, 'mail.result');
    }
    return { address, alertKinds: alertKinds as AlertKind[], jobIds, results: results as SessionStatus[] };
  }

  async function get(_actor: Actor, id: number): Promise<RecipientRow> {
    const r = await store.recipients.get(id);
    if (!r) throw notFound('Mail recipient', id);
    return r;
  }

  return {
    get,
    list(_actor: Actor): Promise<RecipientRow[]> {
      return store.recipients.all();
    },
    async create(_actor: Actor, input: RecipientInput): Promise<RecipientRow> {
      return store.recipients.create({ ...(await checked(input)), createdAt: clock.now() });
    },
    async update(actor: Actor, id: number, changes: RecipientChanges): Promise<RecipientRow> {
      const was = await get(actor, id);
      const next = await checked({
        address: changes.address ?? was.address,
        alertKinds: changes.alertKinds === undefined ? was.alertKinds : changes.alertKinds,
        jobIds: changes.jobIds === undefined ? was.jobIds : changes.jobIds,
        results: changes.results === undefined ? was.results : changes.results,
      });
      return (await store.recipients.update(id, next)) ?? was;
    },
    async delete(actor: Actor, id: number): Promise<void> {
      await get(actor, id);
      await store.recipients.delete(id);
    },
  };
}

export type RecipientService = ReturnType<typeof recipientService>;

/** What the audit log records (never the password: only which fields a change set). */
export function mailAuditSpecs(ctx: Pick<ServiceContext, 'store'>) {
  const address = async ([id]: [number, ...unknown[]]) => (await ctx.store.recipients.get(id))?.address;
  const fields = (c: object) => Object.keys(c).sort();
  const smtp: AuditSpecs<SmtpService> = {
    create: { action: 'smtp.create', targetType: 'smtp', target: ([input], r) => ({ id: r?.id ?? null, name: r?.host ?? input.host }) },
    update: { action: 'smtp.update', targetType: 'smtp', detail: ([, changes]) => ({ fields: fields(changes) }) },
    delete: { action: 'smtp.delete', targetType: 'smtp' },
    test: { action: 'smtp.test', targetType: 'smtp', detail: (_args, r) => (r ? { ok: r.ok } : undefined) },
  };
  const recipients: AuditSpecs<RecipientService> = {
    create: { action: 'recipient.create', targetType: 'recipient', target: ([input], r) => ({ id: r?.id ?? null, name: r?.address ?? input.address }) },
    update: { action: 'recipient.update', targetType: 'recipient', nameBefore: address, detail: ([, changes]) => ({ fields: fields(changes) }) },
    delete: { action: 'recipient.delete', targetType: 'recipient', nameBefore: address },
  };
  return { smtp, recipients };
}
