/**
 * The OpenAPI 3 description of the API, generated from the route schemas (src/api/schemas/)
 * by @fastify/swagger, served at /api/openapi.json and browsable with Swagger UI at /api/docs
 * (its files come from the npm package: no internet needed). Neither needs a login session
 * (src/api/access.ts).
 *
 * Call `registerOpenApi` before any route is added: @fastify/swagger learns the routes from an
 * `onRoute` hook, which sees only the routes added after it. The hook is installed at once (the
 * plugin function is applied to the root instance directly, as fastify-plugin would, rather than
 * queued with `register`), so every route added later — in any module — is described.
 */
import { fastifySwagger, formatParamUrl } from '@fastify/swagger';
import { fastifySwaggerUi, type FastifySwaggerUiOptions } from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { addSharedSchemas, bodyDoc, documentedResponses, TAG_DESCRIPTIONS } from './schemas/index.ts';

export const OPENAPI_PATH = '/api/openapi.json';
export const DOCS_PREFIX = '/api/docs';

/** @fastify/swagger-ui's plugin function: async, though its type declares the callback form. */
const swaggerUi = fastifySwaggerUi as unknown as (instance: FastifyInstance, opts: FastifySwaggerUiOptions) => Promise<void>;

interface Operation {
  requestBody?: { required?: boolean };
}

export function registerOpenApi(app: FastifyInstance, version: string): void {
  addSharedSchemas(app);

  // Operations whose body may be left out ("METHOD /openapi/path"); @fastify/swagger marks every
  // documented body required.
  const optionalBodies = new Set<string>();

  fastifySwagger(app, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Census',
        version,
        description:
          'Inventory and job control plane for application servers, wire-compatible with the IBM Spectrum Protect Plus (SPP) REST API. ' +
          'Log in with `POST /api/endeavour/session` (HTTP Basic) and send the `sessionid` it answers as `X-Endeavour-Sessionid` on every other call. ' +
          'Errors are `{id, description}` with the SPP status code. See docs/api.md and docs/compat.md.',
      },
      servers: [{ url: '/', description: 'This Census server' }],
      tags: TAG_DESCRIPTIONS,
      components: {
        securitySchemes: {
          sessionid: { type: 'apiKey', in: 'header', name: 'X-Endeavour-Sessionid', description: 'The `sessionid` answered by the login.' },
          basicAuth: { type: 'http', scheme: 'basic', description: 'User name and password, for the login only.' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'The token set with `census server --metrics-token` (or CENSUS_METRICS_TOKEN), for /metrics only.' },
        },
      },
      security: [{ sessionid: [] }],
    },
    // Shared schemas are named by their $id in components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // Request bodies: the schema the route validates with, and the other content types it reads
    // (CSV). Error answers: one entry per status in place of the `default` that serializes them.
    transform: ({ schema, url, route }) => {
      if (!schema) return { schema, url };
      const body = bodyDoc(schema.body);
      const response = documentedResponses(schema.response);
      if (body && !body.required) for (const m of [route.method].flat()) optionalBodies.add(`${m.toLowerCase()} ${formatParamUrl(url)}`);
      const content = body?.otherTypes
        ? { content: { 'application/json': { schema: schema.body }, ...Object.fromEntries(Object.entries(body.otherTypes).map(([t, s]) => [t, { schema: s }])) } }
        : undefined;
      return { schema: { ...schema, ...(content ? { body: content } : {}), ...(response ? { response } : {}) } as FastifySchema, url };
    },
    transformObject: (documentObject) => {
      const doc = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject;
      for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Operation>>)) {
        for (const [method, op] of Object.entries(item)) {
          if (op?.requestBody && optionalBodies.has(`${method} ${path}`)) op.requestBody.required = false;
        }
      }
      return doc;
    },
  }, (err) => {
    if (err) throw err;
  });

  // Public: it describes the same API as the documentation shipped with Census, nothing more.
  app.get(OPENAPI_PATH, { schema: { hide: true, security: [] } }, async () => app.swagger());

  // Swagger UI in a plugin context of its own. Applied directly rather than registered: as
  // registered plugins go, @fastify/swagger above was not (it only needs the `swagger` decorator).
  app.register(async (instance) => {
    await swaggerUi(instance, {
      routePrefix: DOCS_PREFIX,
      uiConfig: { docExpansion: 'list', deepLinking: true },
      theme: { title: 'Census API' },
    });
  });
}
