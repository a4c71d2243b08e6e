/**
 * E-mail settings (docs/email.md): the SMTP server at /api/smtp (SPP's path; at most one server)
 * and the mail recipients at /api/census/recipient, on the mail services. The SMTP password is
 * accepted and never answered (`passwordSet`).
 */
import type { FastifyInstance } from 'fastify';
import { invalid } from '../core/errors.ts';
import type { RecipientChanges, RecipientInput, RecipientView, SmtpChanges, SmtpInput, SmtpView } from '../services/index.ts';
import { actorOf, bodyObject, idParam, queryParam, type ApiContext } from './context.ts';
import { baseUrl, link } from './links.ts';
import {
  answer, noContent, pathParams, query, RecipientBody, RecipientUpdateBody, requestBody, routeSchema, SmtpServerBody, SmtpServerUpdateBody,
  SmtpTestBody, TAGS, type RecipientWire, type SmtpServerWire,
} from './schemas/index.ts';

type Body = Record<string, unknown>;

const SMTP = '/api/smtp';
const RECIPIENT = '/api/census/recipient';

export function smtpWire(base: string, s: SmtpView): SmtpServerWire {
  const self = `${SMTP}/${s.id}`;
  return {
    links: {
      self: link(base, self, 'self'), up: link(base, SMTP, 'up'), edit: link(base, self, 'update'), delete: link(base, self, 'delete'),
      test: link(base, `${self}?action=test`, 'action', 'Send a test message'),
    },
    id: String(s.id), host: s.host, port: s.port, security: s.security, username: s.username, passwordSet: s.passwordSet, sender: s.sender,
    uiUrl: s.uiUrl, tlsVerify: s.tlsVerify, caCert: s.caCert, timeoutMs: s.timeoutMs, subjectPrefix: s.subjectPrefix, retryForMs: s.retryForMs,
    hostAddress: s.host, portNumber: s.port, fromAddress: s.sender, timeout: s.timeoutMs,
    createdAt: s.createdAt, updatedAt: s.updatedAt,
  };
}

export function recipientWire(base: string, r: RecipientView): RecipientWire {
  const self = `${RECIPIENT}/${r.id}`;
  return {
    links: { self: link(base, self, 'self'), up: link(base, RECIPIENT, 'up'), edit: link(base, self, 'update'), delete: link(base, self, 'delete') },
    id: String(r.id), address: r.address, alertKinds: r.alertKinds, jobIds: r.jobIds, results: r.results, createdAt: r.createdAt,
  };
}

/**
 * The body's settings in Census's names (SPP's `hostAddress`, `portNumber`, `fromAddress` and
 * `timeout` are read when Census's are absent). For a change, null and "" remove a setting; for
 * a new server they are "not given".
 */
function smtpSettings(body: Body, change: boolean): SmtpChanges {
  const pick = (...names: string[]) => {
    for (const n of names) if (body[n] !== undefined && !(body[n] === null && !change)) return body[n];
    return undefined;
  };
  const fields: [keyof SmtpInput, string[]][] = [
    ['host', ['host', 'hostAddress']], ['port', ['port', 'portNumber']], ['security', ['security']], ['username', ['username']],
    ['password', ['password']], ['sender', ['sender', 'fromAddress']], ['uiUrl', ['uiUrl']], ['tlsVerify', ['tlsVerify']],
    ['caCert', ['caCert']], ['timeoutMs', ['timeoutMs', 'timeout']], ['subjectPrefix', ['subjectPrefix']], ['retryForMs', ['retryForMs']],
  ];
  const out: Record<string, unknown> = {};
  for (const [key, names] of fields) {
    const v = pick(...names);
    if (v === undefined) continue;
    if (v === '' || v === null) {
      if (change) out[key] = null;
      continue;
    }
    out[key] = v;
  }
  return out as SmtpChanges;
}

function recipientFields(body: Body): RecipientChanges {
  const out: RecipientChanges = {};
  if (typeof body.address === 'string') out.address = body.address;
  if (body.alertKinds !== undefined) out.alertKinds = (body.alertKinds as string[] | null) ?? [];
  if (body.jobIds !== undefined) out.jobIds = ((body.jobIds as (number | string)[] | null) ?? []).map(Number);
  if (body.results !== undefined) out.results = (body.results as string[] | null) ?? [];
  return out;
}

export function smtpRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { smtp, recipients } = ctx.services;
  const SMTP_ID = pathParams({ id: 'SMTP server id.' });
  const RECIPIENT_ID = pathParams({ id: 'Recipient id.' });

  app.get(SMTP, {
    schema: routeSchema({ tag: TAGS.mail, summary: 'Get the SMTP server (a list of at most one)', permission: 'smtp.view', ok: { 200: 'SmtpServerList' }, errors: [403] }),
  }, async (req) => {
    const all = await smtp.list(await actorOf(ctx, req));
    const base = baseUrl(req);
    return { links: { self: link(base, SMTP, 'self'), create: link(base, SMTP, 'create') }, total: all.length, page: 1, smtps: all.map((s) => smtpWire(base, s)) };
  });

  app.post(SMTP, {
    schema: routeSchema({
      tag: TAGS.mail, summary: 'Set the SMTP server', permission: 'smtp.edit',
      description: 'At most one: 409 while one is set (change it with PUT). The password is sealed and never answered. No connection is made: see `?action=test`.',
      body: requestBody(SmtpServerBody, { required: true }), ok: { 201: answer('SmtpServer', 'The SMTP server.') }, headers: { location: 'URL of the SMTP server.' }, errors: [400, 403, 409],
    }),
  }, async (req, reply) => {
    const made = await smtp.create(await actorOf(ctx, req), smtpSettings(bodyObject(req), false) as SmtpInput);
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}${SMTP}/${made.id}`).send(smtpWire(base, made));
  });

  app.get(`${SMTP}/:id`, {
    schema: routeSchema({ tag: TAGS.mail, summary: 'Get the SMTP server', permission: 'smtp.view', params: SMTP_ID, ok: { 200: 'SmtpServer' }, errors: [400, 403, 404] }),
  }, async (req) => smtpWire(baseUrl(req), await smtp.get(await actorOf(ctx, req), idParam(req))));

  app.put(`${SMTP}/:id`, {
    schema: routeSchema({
      tag: TAGS.mail, summary: 'Change the SMTP server', permission: 'smtp.edit', params: SMTP_ID,
      description: 'What is given changes; null removes an optional setting (the password among them). A new `host` needs `password` again.',
      body: requestBody(SmtpServerUpdateBody, { required: true }), ok: { 200: 'SmtpServer' }, errors: [400, 403, 404],
    }),
  }, async (req) => smtpWire(baseUrl(req), await smtp.update(await actorOf(ctx, req), idParam(req), smtpSettings(bodyObject(req), true))));

  app.delete(`${SMTP}/:id`, {
    schema: routeSchema({
      tag: TAGS.mail, summary: 'Remove the SMTP server', permission: 'smtp.edit', params: SMTP_ID,
      description: 'No e-mail is sent from then on (messages waiting to be retried fail); the recipients stay.', ok: { 204: noContent('Removed.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    await smtp.delete(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });

  app.post(`${SMTP}/:id`, {
    schema: routeSchema({
      tag: TAGS.mail, summary: 'Send a test message', permission: { action: { test: 'smtp.edit' } }, params: SMTP_ID,
      description: '`?action=test` with `{"to": "ops@example.com"}`: sends a test message now and answers how it went (200 also when the server refused it: `ok` false, with its reply).',
      querystring: query({ action: '`test`.' }), body: requestBody(SmtpTestBody, { required: true }), ok: { 200: 'SmtpTestResult' }, errors: [400, 403, 404],
    }),
  }, async (req) => {
    const action = queryParam(req, 'action');
    if (action !== 'test') throw invalid(`Unknown SMTP server action ${JSON.stringify(action ?? null)}; use ?action=test.`);
    const to = bodyObject(req).to;
    if (typeof to !== 'string' || !to) throw invalid('"to" is required: the address the test message goes to.', 'mail.address');
    return smtp.test(await actorOf(ctx, req), idParam(req), to, baseUrl(req));
  });

  app.get(RECIPIENT, {
    schema: routeSchema({ tag: TAGS.mail, summary: 'List the mail recipients', permission: 'smtp.view', ok: { 200: 'RecipientList' }, errors: [403] }),
  }, async (req) => {
    const all = await recipients.list(await actorOf(ctx, req));
    const base = baseUrl(req);
    return { links: { self: link(base, RECIPIENT, 'self'), create: link(base, RECIPIENT, 'create') }, total: all.length, page: 1, recipients: all.map((r) => recipientWire(base, r)) };
  });

  app.post(RECIPIENT, {
    schema: routeSchema({
      tag: TAGS.mail, summary: 'Add a mail recipient', permission: 'smtp.edit',
      description: 'Alerts of the kinds in `alertKinds` are mailed when raised and when cleared; the ended sessions of the jobs in `jobIds` whose result is in `results` (empty: FAILED and PARTIAL).',
      body: requestBody(RecipientBody, { required: true }), ok: { 201: answer('Recipient', 'The new recipient.') }, headers: { location: 'URL of the new recipient.' }, errors: [400, 403],
    }),
  }, async (req, reply) => {
    const made = await recipients.create(await actorOf(ctx, req), recipientFields(bodyObject(req)) as RecipientInput);
    const base = baseUrl(req);
    return reply.code(201).header('location', `${base}${RECIPIENT}/${made.id}`).send(recipientWire(base, made));
  });

  app.get(`${RECIPIENT}/:id`, {
    schema: routeSchema({ tag: TAGS.mail, summary: 'Get a mail recipient', permission: 'smtp.view', params: RECIPIENT_ID, ok: { 200: 'Recipient' }, errors: [400, 403, 404] }),
  }, async (req) => recipientWire(baseUrl(req), await recipients.get(await actorOf(ctx, req), idParam(req))));

  app.put(`${RECIPIENT}/:id`, {
    schema: routeSchema({
      tag: TAGS.mail, summary: 'Change a mail recipient', permission: 'smtp.edit', params: RECIPIENT_ID, description: 'What is given replaces; what is left out stays.',
      body: requestBody(RecipientUpdateBody, { required: true }), ok: { 200: 'Recipient' }, errors: [400, 403, 404],
    }),
  }, async (req) => recipientWire(baseUrl(req), await recipients.update(await actorOf(ctx, req), idParam(req), recipientFields(bodyObject(req)))));

  app.delete(`${RECIPIENT}/:id`, {
    schema: routeSchema({
      tag: TAGS.mail, summary: 'Remove a mail recipient', permission: 'smtp.edit', params: RECIPIENT_ID,
      description: 'Messages to it already waiting are still sent.', ok: { 204: noContent('Removed.') }, errors: [400, 403, 404],
    }),
  }, async (req, reply) => {
    await recipients.delete(await actorOf(ctx, req), idParam(req));
    return reply.code(204).send();
  });
}
