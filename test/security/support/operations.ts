/**
 * The operations the fuzzer walks, read from the OpenAPI document the server serves: every path
 * and method, its parameters and their schemas, its request body's schema and content types, and
 * what its successful answers are (JSON, a stream, plain text). A route added to the API is in
 * the document (test/openapi.test.ts makes sure), so it is fuzzed without editing the tests.
 */

export type Schema = Record<string, unknown>;

export interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  schema: Schema;
}

export interface Operation {
  method: string;
  /** The OpenAPI path, `/api/endeavour/job/{id}`. */
  path: string;
  params: Param[];
  /** The request body's schema (JSON), when the operation documents one. */
  body?: Schema;
  /** Content types the body may have. */
  bodyTypes: string[];
  /** Content types of its 2xx answers. */
  produces: string[];
  /** Under /ngp errors are wrapped as {statusCode, response, id, description}. */
  ngp: boolean;
}

interface Doc {
  paths: Record<string, Record<string, {
    parameters?: { name: string; in: string; schema?: Schema }[];
    requestBody?: { content?: Record<string, { schema?: Schema }> };
    responses: Record<string, { content?: Record<string, unknown> }>;
  }>>;
  components?: { schemas?: Record<string, Schema> };
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'patch']);

export function operationsOf(doc: Doc): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const content = op.requestBody?.content ?? {};
      const produces = Object.entries(op.responses).filter(([status]) => /^2/.test(status)).flatMap(([, r]) => Object.keys(r.content ?? {}));
      out.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query' || p.in === 'header')
          .map((p) => ({ name: p.name, in: p.in as Param['in'], schema: resolve(doc, p.schema ?? {}) })),
        body: content['application/json']?.schema ? resolve(doc, content['application/json'].schema) : undefined,
        bodyTypes: Object.keys(content),
        produces,
        ngp: path.startsWith('/ngp/'),
      });
    }
  }
  return out;
}

/** Inlines `$ref`s to components (one level at a time, lazily enough for the schemas here). */
function resolve(doc: Doc, s: Schema, depth = 0): Schema {
  if (depth > 8) return {};
  const ref = s.$ref;
  if (typeof ref === 'string') {
    const name = ref.replace(/^#\/components\/schemas\//, '');
    return resolve(doc, doc.components?.schemas?.[name] ?? {}, depth + 1);
  }
  const out: Schema = { ...s };
  if (s.properties && typeof s.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(s.properties as Record<string, Schema>).map(([k, v]) => [k, resolve(doc, v, depth + 1)]));
  }
  if (s.items && typeof s.items === 'object') out.items = resolve(doc, s.items as Schema, depth + 1);
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    if (Array.isArray(s[key])) out[key] = (s[key] as Schema[]).map((v) => resolve(doc, v, depth + 1));
  }
  return out;
}

/** The object schemas a body schema admits (its own, or each `anyOf` branch's, items of arrays included). */
export function objectSchemas(s: Schema | undefined): Schema[] {
  if (!s) return [];
  const branches = [...((s.anyOf ?? s.oneOf ?? []) as Schema[])];
  if (s.properties) branches.push(s);
  return branches.flatMap((b) => (b.type === 'array' && b.items ? objectSchemas(b.items as Schema) : b.properties ? [b] : objectSchemas(b.anyOf || b.oneOf ? b : undefined)));
}

/** `/api/endeavour/job/{id}` with each `{name}` replaced by the (already encoded) value. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? '1');
}

export const pathParamNames = (op: Operation): string[] => op.params.filter((p) => p.in === 'path').map((p) => p.name);
