/**
 * Webhook endpoints and notification deliveries (a Census addition, docs/notifications.md):
 * /api/census/webhook and /api/census/delivery. A signing secret appears only in the answer that
 * made or rotated it (`WebhookCreated`); every other answer says `secretSet: true`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { WEBHOOK_EVENTS } from '../../core/notifications.ts';
import { arrayOf, boolean, BooleanLike, collection, epochMs, IntegerLike, integer, linksOf, numericId, object, oneOf, orNull, ref, str, text } from './common.ts';

const EVENTS = `One or more of: ${WEBHOOK_EVENTS.map((e) => `\`${e}\``).join(', ')}.`;

const webhookFields = {
  links: linksOf('`self`, `up`, `edit`, `delete`, `test` and `deliveries`.'),
  id: numericId('Webhook id'),
  name: str('What it is for (default: the URL\'s host).'),
  url: str('Where events are POSTed.'),
  events: arrayOf(str(), `The events it receives. ${EVENTS}`),
  format: oneOf(['json', 'slack', 'teams'], '`json`: Census\'s signed JSON event; `slack`: a Slack incoming-webhook message; `teams`: a Teams Adaptive Card message.'),
  enabled: boolean('A disabled endpoint gets no new deliveries.'),
  retryForMs: integer('How long a failing delivery is retried (ms) before it is given up as FAILED.'),
  secretSet: boolean('Always true: the signing secret is kept sealed and never shown again.'),
  createdAt: epochMs('When it was registered'),
};

export const Webhook = object(webhookFields, 'A webhook endpoint, without its signing secret.');
Webhook.$id = 'Webhook';
export type WebhookWire = Static<typeof Webhook>;

export const WebhookCreated = object({
  ...webhookFields,
  secret: str('The signing secret (HMAC-SHA256 key of `X-Census-Signature`). Shown this once.'),
}, 'A webhook endpoint with its new signing secret (never shown again).');
WebhookCreated.$id = 'WebhookCreated';
export type WebhookCreatedWire = Static<typeof WebhookCreated>;

export const WebhookList = collection('webhooks', Webhook, 'Webhook endpoints, oldest first.');
WebhookList.$id = 'WebhookList';

export const WebhookTestResult = object({
  ok: boolean('The endpoint answered 2xx.'),
  statusCode: orNull(integer('Its HTTP status.')),
  response: orNull(str('The first 2 KiB of its answer.')),
  error: orNull(str('Why it failed (a status, a refused connection, a timeout).')),
  durationMs: integer('How long the POST took.'),
}, 'How the endpoint answered a signed `webhook.test` event.');
WebhookTestResult.$id = 'WebhookTestResult';
export type WebhookTestResultWire = Static<typeof WebhookTestResult>;

const DELIVERY_STATUS = ['PENDING', 'QUEUED', 'DELIVERED', 'FAILED'] as const;

export const DeliveryAttempt = object({
  id: numericId('Attempt id'),
  at: epochMs('When it ended'),
  durationMs: integer('How long it took.'),
  ok: boolean('Delivered.'),
  statusCode: orNull(integer('HTTP status, or the SMTP reply code.')),
  response: orNull(str('The first 2 KiB of the answer.')),
  error: orNull(str('Why it failed.')),
}, 'One attempt to deliver.');
DeliveryAttempt.$id = 'DeliveryAttempt';

const deliveryFields = {
  links: linksOf('`self`, `up`, and `resend` when DELIVERED or FAILED.'),
  id: numericId('Delivery id'),
  eventId: str('The notification\'s event id: the same on every retry and every receiver (`X-Census-Event-Id`).'),
  eventType: str('The notification\'s type, e.g. `session.ended`.'),
  channel: oneOf(['webhook', 'email'], 'How it is sent.'),
  targetId: orNull(numericId('The webhook or mail recipient')),
  target: str('Where it goes: the URL, or the addresses.'),
  status: oneOf(DELIVERY_STATUS, '`PENDING` (waiting for its time), `QUEUED` (a task of job 1006 is sending it), `DELIVERED`, `FAILED` (given up).'),
  attemptCount: integer('Attempts so far.'),
  nextAttemptAt: epochMs('When it is (or was) due next'),
  giveUpAt: epochMs('After this it is not retried'),
  createdAt: epochMs('When the notification was fanned out to this receiver'),
  deliveredAt: orNull(epochMs('When it was delivered')),
  lastError: orNull(str('Why the last attempt failed.')),
};

export const Delivery = object(deliveryFields, 'One notification to one receiver.');
Delivery.$id = 'Delivery';
export type DeliveryWire = Static<typeof Delivery>;

export const DeliveryDetail = object({
  ...deliveryFields,
  attempts: arrayOf(ref(DeliveryAttempt), 'Every attempt, oldest first, with the receiver\'s answers.'),
}, 'One delivery with its attempts.');
DeliveryDetail.$id = 'DeliveryDetail';
export type DeliveryDetailWire = Static<typeof DeliveryDetail>;

export const DeliveryList = collection('deliveries', Delivery, 'Deliveries, newest first.');
DeliveryList.$id = 'DeliveryList';

// ---- request bodies --------------------------------------------------------------------------

const eventsBody = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32, description: EVENTS });
const common = {
  name: Type.Optional(text({ maxLength: 128, description: 'Default: the URL\'s host.' })),
  format: Type.Optional(text({ maxLength: 16, description: '`json` (default), `slack` or `teams`.' })),
  secret: Type.Optional(text({ maxLength: 256, writeOnly: true, description: 'The signing secret (16 to 256 characters); default: Census makes one. Shown once.' })),
  enabled: Type.Optional(BooleanLike('Default true.')),
  retryForMs: Type.Optional(IntegerLike({ minimum: 0, maximum: 7 * 24 * 3_600_000, description: 'How long to retry a failing delivery (ms, up to 7 days; default 24 h).' })),
};

export const WebhookBody = Type.Object({
  url: text({ maxLength: 2048, description: 'http:// or https:// (certificates are verified).' }),
  events: eventsBody,
  ...common,
}, { additionalProperties: true, description: 'A new webhook endpoint.' });

export const WebhookUpdateBody = Type.Object({
  url: Type.Optional(text({ maxLength: 2048 })),
  events: Type.Optional(eventsBody),
  ...common,
  rotateSecret: Type.Optional(BooleanLike('Make a new signing secret; the answer shows it once.')),
}, { additionalProperties: true, description: 'Changes to a webhook endpoint; what is left out stays.' });
