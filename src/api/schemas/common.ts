/**
 * The building blocks of the API's schemas, in TypeBox: each helper gives the JSON Schema the
 * API has always documented (so the OpenAPI document and fast-json-stringify see plain JSON
 * Schema) and the TypeScript type of the value it describes (`Static<typeof X>`), so the wire
 * functions and the web UI are typed by the same object that serializes and documents a record.
 *
 * Shapes every route shares — the SPP error body, links and the collection envelope — live here;
 * the records live in one module per resource beside this one. A record that other schemas refer
 * to has an `$id`: src/api/schemas/route.ts registers it with `app.addSchema`, and `ref(X)` points
 * at it, so it becomes one entry of `components.schemas` in the document.
 */
import { Type, type Static, type TArray, type TInteger, type TSchema, type TUnsafe } from '@sinclair/typebox';

type Options = Record<string, unknown>;
const described = (description?: string, extra: Options = {}): Options => ({ ...(description ? { description } : {}), ...extra });

export const str = (description?: string, extra: Options = {}) => Type.String(described(description, extra));
export const integer = (description?: string) => Type.Integer(described(description));
export const number = (description?: string) => Type.Number(described(description));
export const boolean = (description?: string) => Type.Boolean(described(description));
/** A string out of a fixed list (typed as a string: the domain types carry the union). */
export const oneOf = (values: readonly (string | null)[], description?: string) =>
  Type.Unsafe<string>({ type: 'string', ...described(description), enum: [...values] });
/** The same schema, also admitting null (`type: [t, 'null']`, as the document always had it). */
export const orNull = <T extends TSchema>(s: T): TUnsafe<Static<T> | null> =>
  Type.Unsafe<Static<T> | null>({ ...s, type: [s.type as string, 'null'] });
/** A property Census always writes as null (SPP fills it for other job types or products). */
export const alwaysNull = (description = 'Always null in Census.') => Type.Null({ description });
export const arrayOf = <T extends TSchema>(items: T, description?: string) => Type.Array(items, described(description));
/** An object with open-ended keys: serialized whole; the listed properties are optional. */
export const openObject = <P extends Record<string, TSchema>>(description?: string, properties: P = {} as P) =>
  Type.Object(properties, { ...described(description), additionalProperties: true });
/** An object whose keys are all required unless wrapped in `Type.Optional`. */
export const object = <P extends Record<string, TSchema>>(properties: P, description?: string) =>
  Type.Object(properties, described(description));
/** A map of open-ended keys to one kind of value. */
export const mapOf = <T extends TSchema>(values: T, description?: string): TUnsafe<Record<string, Static<T>>> =>
  Type.Unsafe<Record<string, Static<T>>>({ type: 'object', ...described(description), additionalProperties: values });
export const epochMs = (description: string) => integer(`${description} (epoch milliseconds).`);
export const numericId = (what: string) => str(`${what} (a numeric string).`, { pattern: '^\\d+$' });

/** A reference to a shared schema (one with an `$id`), typed as that schema. */
export const ref = <T extends TSchema>(s: T, description?: string): TUnsafe<Static<T>> => {
  if (typeof s.$id !== 'string') throw new Error('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>({ ...(description ? { description } : {}), $ref: `${s.$id}#` });
};

// ---- shared records --------------------------------------------------------------------------

export const ErrorBody = object({
  id: str('SPP exception name, e.g. `XSBObjectNotFoundException`, `XSBInvalidArgumentException`, `XSBMissingSessionidException`.'),
  description: str('What went wrong, for a person.'),
}, "An error in SPP's shape.");
ErrorBody.$id = 'Error';
export type ErrorWire = Static<typeof ErrorBody>;

export const NgpError = object({
  statusCode: integer('The HTTP status, repeated.'),
  response: ref(ErrorBody),
  id: str('SPP exception name (repeated from `response` for readers of the core API).'),
  description: str('What went wrong (repeated from `response`).'),
}, 'An error of the NodeJS layer (/ngp): the SPP error wrapped as `{statusCode, response}`, with `id` and `description` on top as well.');
NgpError.$id = 'NgpError';

export const Link = object({
  href: str('Absolute URL, built from the scheme and Host of the request.'),
  rel: str('`self`, `up`, `related`, `action`, `next`, `last`, `create`, `update`, `delete`.'),
  title: Type.Optional(str('Label of an action link.')),
}, 'A HATEOAS link.');
Link.$id = 'Link';
export type LinkWire = Static<typeof Link>;

export const Links = mapOf(ref(Link), 'Links by name (`self`, `up`, `start`, `pause Schedule`, …); which ones appear depends on the object and its state.');
Links.$id = 'Links';
export type LinksWire = Static<typeof Links>;

/** The `links` of a record, with what the record shows. */
export const linksOf = (description?: string) => ref(Links, description);

/** `{links, total, page, <key>: [...]}`, SPP's collection envelope (spec §1.5). */
type CollectionProps<K extends string, T extends TSchema> =
  { links: TUnsafe<LinksWire>; total: TInteger; page: TInteger } & { [P in K]: TArray<TUnsafe<Static<T>>> };

export function collection<K extends string, T extends TSchema>(key: K, item: T, description: string) {
  const properties = {
    links: linksOf('`self` and `up`, `nextPage` and `lastPage` while more records follow, and actions such as `create`.'),
    total: integer('How many records match, on all pages.'),
    page: integer('1-based number of this page: floor(pageStartIndex / pageSize) + 1.'),
    [key]: arrayOf(ref(item), `This page's records (an empty array when none match).`),
  } as CollectionProps<K, T>;
  return Type.Object(properties, { description });
}

// ---- request parts ---------------------------------------------------------------------------

/** A query parameter: a string, or several (a repeated parameter; the last one counts). */
export const queryParam = (description: string) => Type.Union([Type.String(), Type.Array(Type.String())], { description });

/** A query string with these parameters; any other parameter is ignored, as SPP clients expect. */
export const query = (params: Record<string, string>) =>
  Type.Object(Object.fromEntries(Object.entries(params).map(([k, d]) => [k, Type.Optional(queryParam(d))])), { additionalProperties: true });

const COLLECTION_PARAMS = {
  filter: 'JSON array of criteria `[{"property": "name", "value": "x", "op": "="}]`, combined with AND. Operators: =, <>, <, >, <=, >=, IN, NOT IN, EXISTS, NOT EXISTS (default =); `*` is a wildcard with = and <>; unknown properties are ignored.',
  sort: 'JSON array `[{"property": "name", "direction": "ASC"}]` (ASC or DESC).',
  pageSize: 'Records per page: a whole number ≥ 1 (default 100, at most 100000).',
  pageStartIndex: '0-based index of the first record (default 0).',
};

/** The query string of a collection: filter, sort and paging (spec §1.6–1.8), plus `extra`. */
export const collectionQuery = (extra: Record<string, string> = {}, omit: (keyof typeof COLLECTION_PARAMS)[] = []) =>
  query(Object.fromEntries(Object.entries({ ...COLLECTION_PARAMS, ...extra }).filter(([k]) => !(omit as string[]).includes(k))));

/** Path parameters; ids are numeric strings, checked by the handler (400 if not a number, 404 if unknown). */
export const pathParams = (params: Record<string, string>) =>
  Type.Object(Object.fromEntries(Object.entries(params).map(([k, d]) => [k, Type.String({ description: d })])));

// ---- the loose types of SPP's clients, coerced explicitly ----------------------------------

/**
 * `x-error` on a schema is the 400 message for a value it rejects, after the field's name
 * (`"portNumber" must be a whole number from 1 to 65535.`); see validate.ts.
 */

/**
 * A whole number, also written as a numeric string (`"portNumber": "5432"`, what CSV and some
 * SPP clients send); `""` and null mean "not given". Decoded to a number (or null) after
 * validation (src/api/schemas/validate.ts), so the handler reads a number.
 */
export const IntegerLike = (opts: { description?: string; minimum?: number; maximum?: number; errorMessage?: string } = {}) => {
  const { description, errorMessage, ...range } = opts;
  return Type.Transform(Type.Union([
    Type.Integer(range),
    Type.String({ pattern: '^\\s*\\d*\\s*$' }),
    Type.Null(),
  ], { ...described(description), 'x-error': errorMessage ?? 'must be a whole number' }))
    .Decode((v) => (typeof v === 'string' ? (v.trim() === '' ? null : Number(v)) : v))
    .Encode((v) => v);
};

/** true or false, also as the strings "true" / "false"; `""` and null mean "not given". Decoded to a boolean (or null). */
export const BooleanLike = (description?: string) =>
  Type.Transform(Type.Union([
    Type.Boolean(),
    Type.String({ pattern: '^(true|false)?$' }),
    Type.Null(),
  ], { ...described(description), 'x-error': 'must be true or false' }))
    .Decode((v) => (typeof v === 'string' ? (v === '' ? null : v === 'true') : v))
    .Encode((v) => v);

/** A string field of a body: null and `""` mean "not given" (as the handlers read them). */
export const text = (opts: { description?: string; maxLength?: number; minLength?: number; writeOnly?: boolean } = {}) => {
  const { description, ...rest } = opts;
  return Type.Union([Type.String(rest), Type.Null()], { ...described(description), 'x-error': opts.maxLength ? `must be a string of at most ${opts.maxLength} characters` : 'must be a string' });
};
