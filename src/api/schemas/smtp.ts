/**
 * E-mail (docs/email.md): the SMTP server at /api/smtp (SPP's path; its fields as far as they are
 * known are answered beside Census's, docs/compat.md "SMTP") and the mail recipients at
 * /api/census/recipient. The SMTP password goes in and never comes out: `passwordSet` says
 * whether one is kept.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  arrayOf, boolean, BooleanLike, collection, epochMs, IntegerLike, integer, linksOf, numericId, object, oneOf, orNull, str, text,
} from './common.ts';

const SECURITY = ['none', 'starttls', 'tls'] as const;

export const SmtpServer = object({
  links: linksOf('`self`, `up`, `edit`, `delete` and `test` (POST `?action=test`).'),
  id: numericId('SMTP server id'),
  host: str('Host name or address of the SMTP server.'),
  port: integer('Its port.'),
  security: oneOf(SECURITY, '`starttls` (STARTTLS required), `tls` (implicit TLS, e.g. port 465) or `none` (no TLS at all).'),
  username: orNull(str('The login; null: no AUTH.')),
  passwordSet: boolean('A password is kept (sealed). The password itself is never answered.'),
  sender: str('The From address, `census@example.com` or `Census <census@example.com>`.'),
  uiUrl: orNull(str("The web UI's address for links in messages; null: Census's public URL or its own address.")),
  tlsVerify: boolean("The server's certificate and name are checked."),
  caCert: orNull(str("PEM: the CA(s) trusted for this server instead of the system's.")),
  timeoutMs: integer('Deadline of connecting, of the greeting and of each reply (ms): a server that stays silent fails the attempt.'),
  subjectPrefix: orNull(str('Put before every subject (default `[Census]`).')),
  retryForMs: integer('How long a message that could not be sent is tried again before it is given up (ms).'),
  hostAddress: str('SPP\'s name for `host`.'),
  portNumber: integer('SPP\'s name for `port`.'),
  fromAddress: str('SPP\'s name for `sender`.'),
  timeout: integer('SPP\'s name for `timeoutMs`.'),
  createdAt: epochMs('When it was set'),
  updatedAt: epochMs('When it last changed'),
}, 'The SMTP server Census sends e-mail through (at most one).');
SmtpServer.$id = 'SmtpServer';
export type SmtpServerWire = Static<typeof SmtpServer>;

export const SmtpServerList = collection('smtps', SmtpServer, 'The SMTP server, if one is set (at most one).');
SmtpServerList.$id = 'SmtpServerList';

export const SmtpTestResult = object({
  ok: boolean('The server accepted the message.'),
  statusCode: orNull(integer('The SMTP reply code of the last step (250 on success), null when no reply came.')),
  response: orNull(str("The server's last reply (at most 2 KiB).")),
  error: orNull(str('Why it failed (never a password).')),
  durationMs: integer('How long it took.'),
}, 'How sending the test message went.');
SmtpTestResult.$id = 'SmtpTestResult';
export type SmtpTestResultWire = Static<typeof SmtpTestResult>;

export const Recipient = object({
  links: linksOf('`self`, `up`, `edit`, `delete`.'),
  id: numericId('Recipient id'),
  address: str('The e-mail address.'),
  alertKinds: arrayOf(str(), 'Alert kinds mailed to it (raised and cleared).'),
  jobIds: arrayOf(integer(), 'Jobs whose ended sessions are mailed to it.'),
  results: arrayOf(str(), 'Session results mailed for those jobs; empty: FAILED and PARTIAL.'),
  createdAt: epochMs('When it was added'),
}, 'A mail recipient: who is mailed which alerts and which jobs\' ended sessions.');
Recipient.$id = 'Recipient';
export type RecipientWire = Static<typeof Recipient>;

export const RecipientList = collection('recipients', Recipient, 'The mail recipients.');
RecipientList.$id = 'RecipientList';

// ---- request bodies --------------------------------------------------------------------------

const smtpSettings = {
  host: Type.Optional(text({ maxLength: 253, description: 'Host name or address (`hostAddress` is read too).' })),
  hostAddress: Type.Optional(text({ maxLength: 253, description: 'SPP\'s name for `host`.' })),
  port: Type.Optional(IntegerLike({ minimum: 1, maximum: 65535, description: 'Default: 587 (starttls), 465 (tls), 25 (none).', errorMessage: 'must be a whole number from 1 to 65535' })),
  portNumber: Type.Optional(IntegerLike({ minimum: 1, maximum: 65535, description: 'SPP\'s name for `port`.', errorMessage: 'must be a whole number from 1 to 65535' })),
  security: Type.Optional(Type.Union([...SECURITY.map((v) => Type.Literal(v)), Type.Null()], {
    description: '`starttls` (default; `tls` when the port is 465, `none` when it is 25), `tls` or `none`.', 'x-error': 'must be one of none, starttls, tls',
  })),
  username: Type.Optional(text({ maxLength: 255, description: 'The login; null or "" for none.' })),
  password: Type.Optional(text({ maxLength: 1024, writeOnly: true, description: 'Sealed, never answered; null removes it.' })),
  sender: Type.Optional(text({ maxLength: 320, description: 'The From address (`fromAddress` is read too).' })),
  fromAddress: Type.Optional(text({ maxLength: 320, description: 'SPP\'s name for `sender`.' })),
  uiUrl: Type.Optional(text({ maxLength: 2048, description: "The web UI's address for links in messages." })),
  tlsVerify: Type.Optional(BooleanLike('Check the server\'s certificate (default true).')),
  caCert: Type.Optional(text({ maxLength: 65536, description: 'PEM CA certificate(s) to trust for this server.' })),
  timeoutMs: Type.Optional(IntegerLike({ minimum: 100, maximum: 600_000, description: '100 to 600000 (default 30000).', errorMessage: 'must be a whole number from 100 to 600000' })),
  timeout: Type.Optional(IntegerLike({ minimum: 100, maximum: 600_000, description: 'SPP\'s name for `timeoutMs`.', errorMessage: 'must be a whole number from 100 to 600000' })),
  subjectPrefix: Type.Optional(text({ maxLength: 100 })),
  retryForMs: Type.Optional(IntegerLike({ minimum: 0, maximum: 30 * 24 * 3_600_000, description: '0 to 30 days in ms (default 24 h).', errorMessage: 'must be a whole number of milliseconds from 0 to 30 days' })),
};

export const SmtpServerBody = Type.Object(smtpSettings, {
  additionalProperties: true,
  description: '`{"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "census", "password": "…", "sender": "census@example.com"}`. `host` and `sender` are required.',
});

export const SmtpServerUpdateBody = Type.Object(smtpSettings, {
  additionalProperties: true,
  description: 'What to change; what is left out stays, null removes an optional setting. A new `host` needs `password` again.',
});

export const SmtpTestBody = Type.Object({
  to: text({ maxLength: 254, description: 'Where the test message goes.' }),
}, { additionalProperties: true, description: '`{"to": "ops@example.com"}`.' });

const stringList = (description: string) => Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 }), Type.Null()], { description, 'x-error': 'must be a list of strings' }));

export const RecipientBody = Type.Object({
  address: text({ maxLength: 254, description: 'The e-mail address.' }),
  alertKinds: stringList('Alert kinds to mail (docs/alerts.md), e.g. `["session.failed", "delivery.failed"]`.'),
  jobIds: Type.Optional(Type.Union([Type.Array(Type.Union([Type.Integer(), Type.String({ pattern: '^\\d{1,10}$' })]), { maxItems: 1000 }), Type.Null()], {
    description: 'Jobs whose ended sessions are mailed (numbers or numeric strings).', 'x-error': 'must be a list of job ids',
  })),
  results: stringList('Session results to mail for those jobs: COMPLETED, PARTIAL, FAILED, CANCELLED (empty: FAILED and PARTIAL).'),
}, { additionalProperties: true, description: '`{"address": "ops@example.com", "alertKinds": ["session.failed"], "jobIds": [1004], "results": ["FAILED"]}`.' });

export const RecipientUpdateBody = Type.Partial(RecipientBody, { additionalProperties: true, description: 'What to change; what is left out stays.' });
