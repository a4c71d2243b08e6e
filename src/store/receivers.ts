/**
 * Who notifications go to: webhook endpoints, the SMTP server (at most one) and the mail
 * recipients, plus Census-wide settings by name (the alert settings). Secrets (a webhook's signing
 * secret, the SMTP password) are stored sealed; sealing and opening is the caller's (services, engine).
 */
import type { Selectable } from 'kysely';
import type { AlertKind } from '../core/alerts.ts';
import type { SessionStatus } from '../core/status.ts';
import { bit, bool, json, type Db } from './rows.ts';
import type { MailRecipientsTable, SmtpServersTable, WebhooksTable } from './schema.ts';

export type WebhookFormat = 'json' | 'slack' | 'teams';
export type SmtpSecurity = 'none' | 'starttls' | 'tls';

export interface WebhookRow {
  id: number;
  name: string;
  url: string;
  events: string[];
  format: WebhookFormat;
  /** Sealed. */
  secret: string;
  enabled: boolean;
  retryForMs: number;
  createdAt: number;
}

export interface SmtpRow {
  id: number;
  host: string;
  port: number;
  security: SmtpSecurity;
  username: string | null;
  /** Sealed. */
  password: string | null;
  sender: string;
  uiUrl: string | null;
  /** Check the server's certificate (against `caCert` when given, else the system's CAs). */
  tlsVerify: boolean;
  caCert: string | null;
  /** Deadline of connecting, the greeting and each reply (ms). */
  timeoutMs: number;
  subjectPrefix: string | null;
  /** How long a message is retried before it is given up (ms). */
  retryForMs: number;
  createdAt: number;
  updatedAt: number;
}

export interface RecipientRow {
  id: number;
  address: string;
  alertKinds: AlertKind[];
  jobIds: number[];
  results: SessionStatus[];
  createdAt: number;
}

const toWebhook = (r: Selectable<WebhooksTable>): WebhookRow => ({
  ...r, events: json<string[]>(r.events, []), format: r.format as WebhookFormat, enabled: bool(r.enabled),
  retryForMs: Number(r.retryForMs), createdAt: Number(r.createdAt),
});
const toSmtp = (r: Selectable<SmtpServersTable>): SmtpRow => ({
  ...r, security: r.security as SmtpSecurity, tlsVerify: bool(r.tlsVerify), timeoutMs: Number(r.timeoutMs), retryForMs: Number(r.retryForMs),
  createdAt: Number(r.createdAt), updatedAt: Number(r.updatedAt),
});
const toRecipient = (r: Selectable<MailRecipientsTable>): RecipientRow => ({
  ...r, alertKinds: json<AlertKind[]>(r.alertKinds, []), jobIds: json<number[]>(r.jobIds, []),
  results: json<SessionStatus[]>(r.results, []), createdAt: Number(r.createdAt),
});

export class WebhookRepository {
  constructor(private db: Db) {}

  async all(): Promise<WebhookRow[]> {
    return (await this.db.selectFrom('webhooks').selectAll().orderBy('id').execute()).map(toWebhook);
  }

  async get(id: number): Promise<WebhookRow | undefined> {
    const r = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toWebhook(r);
  }

  async create(w: Omit<WebhookRow, 'id'>): Promise<WebhookRow> {
    const r = await this.db.insertInto('webhooks').values({ ...w, events: JSON.stringify(w.events), enabled: bit(w.enabled) })
      .returningAll().executeTakeFirstOrThrow();
    return toWebhook(r);
  }

  async update(id: number, c: Partial<Omit<WebhookRow, 'id' | 'createdAt'>>): Promise<WebhookRow | undefined> {
    const { events, enabled, ...rest } = c;
    const values = { ...rest, ...(events ? { events: JSON.stringify(events) } : {}), ...(enabled === undefined ? {} : { enabled: bit(enabled) }) };
    if (Object.keys(values).length) await this.db.updateTable('webhooks').set(values).where('id', '=', id).execute();
    return this.get(id);
  }

  async delete(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

}

export class SmtpRepository {
  constructor(private db: Db) {}

  /** The SMTP server, if one is set. */
  async get(): Promise<SmtpRow | undefined> {
    const r = await this.db.selectFrom('smtpServers').selectAll().orderBy('id').executeTakeFirst();
    return r && toSmtp(r);
  }

  /** Sets the one SMTP server (replacing any other). */
  async put(s: Omit<SmtpRow, 'id' | 'createdAt' | 'updatedAt'>, now: number): Promise<SmtpRow> {
    const current = await this.get();
    const values = { ...s, tlsVerify: bit(s.tlsVerify) };
    if (current) {
      await this.db.updateTable('smtpServers').set({ ...values, updatedAt: now }).where('id', '=', current.id).execute();
      return (await this.get())!;
    }
    const r = await this.db.insertInto('smtpServers').values({ ...values, createdAt: now, updatedAt: now }).returningAll().executeTakeFirstOrThrow();
    return toSmtp(r);
  }

  async delete(): Promise<boolean> {
    const r = await this.db.deleteFrom('smtpServers').executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

}

export class RecipientRepository {
  constructor(private db: Db) {}

  async all(): Promise<RecipientRow[]> {
    return (await this.db.selectFrom('mailRecipients').selectAll().orderBy('id').execute()).map(toRecipient);
  }

  async get(id: number): Promise<RecipientRow | undefined> {
    const r = await this.db.selectFrom('mailRecipients').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toRecipient(r);
  }

  async create(c: Omit<RecipientRow, 'id'>): Promise<RecipientRow> {
    const r = await this.db.insertInto('mailRecipients').values({
      address: c.address, alertKinds: JSON.stringify(c.alertKinds), jobIds: JSON.stringify(c.jobIds), results: JSON.stringify(c.results), createdAt: c.createdAt,
    }).returningAll().executeTakeFirstOrThrow();
    return toRecipient(r);
  }

  async update(id: number, c: Partial<Omit<RecipientRow, 'id' | 'createdAt'>>): Promise<RecipientRow | undefined> {
    const values = {
      ...(c.address === undefined ? {} : { address: c.address }),
      ...(c.alertKinds ? { alertKinds: JSON.stringify(c.alertKinds) } : {}),
      ...(c.jobIds ? { jobIds: JSON.stringify(c.jobIds) } : {}),
      ...(c.results ? { results: JSON.stringify(c.results) } : {}),
    };
    if (Object.keys(values).length) await this.db.updateTable('mailRecipients').set(values).where('id', '=', id).execute();
    return this.get(id);
  }

  async delete(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('mailRecipients').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }
}

/** Census-wide settings, each a JSON value under a name. */
export class SettingsRepository {
  constructor(private db: Db) {}

  async get<T>(name: string, fallback: T): Promise<T> {
    const r = await this.db.selectFrom('settings').select('value').where('name', '=', name).executeTakeFirst();
    return r ? json<T>(r.value, fallback) : fallback;
  }

  async put(name: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    await this.db.insertInto('settings').values({ name, value: text }).onConflict((oc) => oc.column('name').doUpdateSet({ value: text })).execute();
  }
}
