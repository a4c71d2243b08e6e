/**
 * The e-mail channel (docs/email.md): notifications to mail recipients through the one SMTP
 * server (store/receivers.ts). fanOut makes one delivery per recipient that wants the
 * notification, so a refused mailbox fails alone, a retry never mails someone who already has
 * the message, and the delivery log and the delivery.failed alert name the address. send speaks
 * SMTP with nodemailer under deadlines of the server's own (a server that never answers fails the
 * attempt) and says whether trying again can help: a 5xx reply is permanent, anything else
 * (refused connection, timeout, a 4xx reply, a TLS failure) is retried.
 */
import nodemailer from 'nodemailer';
import { isIP } from 'node:net';
import type { AlertData, Delivery, Notification, SessionEndedData } from '../../core/notifications.ts';
import type { SecretBox } from '../../core/secret-box.ts';
import type { SessionStatus } from '../../core/status.ts';
import type { Repositories, Store } from '../../store/index.ts';
import type { RecipientRow, SmtpRow } from '../../store/receivers.ts';
import type { Channel, SendResult } from './channel.ts';
import { composeMail, type MailContent } from './email-message.ts';

/** The session results mailed when a recipient names none. */
export const DEFAULT_MAIL_RESULTS: readonly SessionStatus[] = ['FAILED', 'PARTIAL'];

const MAX_RESPONSE = 2048;

/** Does this recipient want this notification? Alerts by kind; ended sessions by job and result. */
export function wantsMail(rcpt: RecipientRow, n: Pick<Notification, 'type' | 'data'>): boolean {
  if (n.type === 'alert.raised' || n.type === 'alert.cleared') {
    const kind = (n.data as AlertData)?.alert?.kind;
    return kind !== undefined && rcpt.alertKinds.includes(kind);
  }
  if (n.type === 'session.ended') {
    const s = (n.data as SessionEndedData)?.session;
    if (!s || !rcpt.jobIds.includes(s.jobId)) return false;
    return (rcpt.results.length ? rcpt.results : DEFAULT_MAIL_RESULTS).includes(s.status);
  }
  return false;
}

export interface OutgoingMail extends MailContent {
  to: string;
  /** Without the angle brackets. */
  messageId: string;
  headers: Record<string, string>;
}

/** What sending one message came to (the channel's SendResult, and how long it took). */
export interface MailOutcome extends SendResult {
  durationMs: number;
}

/** The nodemailer settings for the stored server (the password opened here, used, never kept). */
function transportOptions(smtp: SmtpRow, secrets: SecretBox) {
  const pass = smtp.password ? secrets.open(smtp.password) : undefined;
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    // "none" means none: no opportunistic STARTTLS either (a relay on localhost, say).
    ignoreTLS: smtp.security === 'none',
    ...(smtp.username ? { auth: { user: smtp.username, pass: pass ?? '' } } : {}),
    tls: {
      rejectUnauthorized: smtp.tlsVerify,
      ...(smtp.caCert ? { ca: smtp.caCert } : {}),
      // SNI needs a name; an address is checked against the certificate's IP entries.
      ...(isIP(smtp.host) ? {} : { servername: smtp.host }),
    },
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
    logger: false,
    debug: false,
  };
}

const clip = (s: string | undefined | null) => (s ? s.slice(0, MAX_RESPONSE) : null);
const replyCode = (response: string | undefined) => {
  const m = /^(\d{3})[\s-]/.exec(response ?? '');
  return m ? Number(m[1]) : null;
};

/** Sends one message; never throws for the server's failure (it is the outcome). */
export async function sendMail(smtp: SmtpRow, secrets: SecretBox, mail: OutgoingMail, signal?: AbortSignal): Promise<MailOutcome> {
  const started = Date.now();
  let transport: ReturnType<typeof nodemailer.createTransport> | undefined;
  try {
    transport = nodemailer.createTransport(transportOptions(smtp, secrets));
    const info = await transport.sendMail({
      from: smtp.sender,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: `<${mail.messageId}>`,
      headers: mail.headers,
      ...(signal ? { signal } : {}),
    });
    const response = typeof info.response === 'string' ? info.response : null;
    return { ok: true, statusCode: replyCode(response ?? undefined) ?? 250, response: clip(response), error: null, retryable: false, durationMs: Date.now() - started };
  } catch (err) {
    const e = err as Error & { code?: string; responseCode?: number; response?: string };
    const statusCode = typeof e.responseCode === 'number' ? e.responseCode : null;
    // A permanent refusal (5xx: bad address, bad login, message refused) will be refused again.
    const retryable = statusCode === null || statusCode < 500;
    const why = e.message || String(err);
    return {
      ok: false, statusCode, response: clip(e.response), error: e.code ? `${e.code}: ${why}` : why, retryable, durationMs: Date.now() - started,
    };
  } finally {
    transport?.close();
  }
}

export interface EmailChannelOptions {
  store: Store;
  secrets: SecretBox;
  /**
   * The web UI's address when the SMTP server's `uiUrl` is not set (main.ts: --public-url, or
   * the address this server listens on); null or undefined: messages carry no link.
   */
  uiBase?: () => string | null | undefined;
}

/** The Message-ID's left part: stable for the event and the delivery, so a resend is recognisable. */
export const mailMessageId = (eventId: string, deliveryId: number | string) => `${eventId}.${deliveryId}@census`;

/** The web UI's address for links, without a trailing slash. */
export function uiBaseOf(smtp: SmtpRow, fallback: (() => string | null | undefined) | undefined): string | null {
  const base = smtp.uiUrl ?? fallback?.() ?? null;
  return base ? base.replace(/\/+$/, '') : null;
}

export class EmailChannel implements Channel {
  readonly name = 'email' as const;

  constructor(private readonly o: EmailChannelOptions) {}

  async fanOut(r: Repositories, batch: readonly Notification[], now: number) {
    const mailed = batch.filter((n) => n.type === 'session.ended' || n.type === 'alert.raised' || n.type === 'alert.cleared');
    if (!mailed.length) return [];
    const smtp = await r.smtp.get();
    if (!smtp) return [];
    const recipients = await r.recipients.all();
    return mailed.flatMap((n) => recipients.filter((rcpt) => wantsMail(rcpt, n)).map((rcpt) => ({
      notificationId: n.id, channel: 'email' as const, targetId: rcpt.id, target: rcpt.address, nextAttemptAt: now, giveUpAt: now + smtp.retryForMs,
    })));
  }

  async send(d: Delivery, n: Notification, signal: AbortSignal): Promise<SendResult> {
    const smtp = await this.o.store.smtp.get();
    if (!smtp) return { ok: false, statusCode: null, response: null, error: 'No SMTP server is set (PUT /api/smtp).', retryable: false };
    const content = composeMail(n, uiBaseOf(smtp, this.o.uiBase), smtp.subjectPrefix, n.eventId);
    const { durationMs: _ignored, ...result } = await sendMail(smtp, this.o.secrets, {
      ...content,
      to: d.target,
      messageId: mailMessageId(n.eventId, d.id),
      headers: { 'X-Census-Event-Id': n.eventId, 'X-Census-Event-Type': n.type, 'Auto-Submitted': 'auto-generated' },
    }, signal);
    return result;
  }
}
